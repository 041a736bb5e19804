// Private networks: pex node --network-key FILE, the refusals it prints, and pex keygen, which makes the key file.

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/psk"
)

var keygenCmd = &cli.Command{
	Name:     "keygen",
	Summary:  "make a network key, for pex node --network-key",
	Lead:     "--out FILE",
	Required: []string{"out"},
	About: "Writes a new random network key (256 bits from the system's secret randomness) " +
		"to FILE, readable by its owner only (mode 0600), in libp2p's swarm.key format: " +
		"the line " + psk.FileHeader + ", the line /base16/, and the key in 64 hex digits. " +
		"It never overwrites a file. It prints the key's fingerprint, which pex node prints " +
		"too, so that operators can tell whether their nodes hold the same key without " +
		"showing it. Copy the file to every node of the private network over a channel " +
		"you trust (SECURITY.md says what the key protects and how to change it).",
	Examples: []string{
		"pex keygen --out /etc/pex/network.key",
		"pex keygen --out net.key --json",
	},
	Flags: func() *flag.FlagSet { return new(keygenOpts).flagSet() },
}

type keygenOpts struct {
	out  string
	json bool
}

func (o *keygenOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex keygen", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "", "write the key to `FILE`, which must not exist (required)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

func runKeygen(args []string, stdout, stderr io.Writer) error {
	var o keygenOpts
	fs := o.flagSet()
	if err := keygenCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pex keygen"}
	if o.out == "" {
		c.Fail("out", "is required")
	}
	c.NoArgs(fs.Args())
	if err := c.Report(stderr); err != nil {
		return err
	}
	k, err := psk.GenerateKey()
	if err != nil {
		return err
	}
	text, _ := k.MarshalText()
	f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: pex keygen never overwrites a key", o.out)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(o.out)
		return err
	}
	cli.NewPrinter(stdout, o.json).Event("keygen", "file", o.out, "fingerprint", k.Fingerprint())
	return nil
}

// checkNetworkKey reads --network-key's file at start: a key, or a
// failure naming the flag and what is wrong with the file (never its
// contents). A file others may read is noted for a warning.
func (o *nodeOpts) checkNetworkKey(c *cli.Checks) {
	if o.networkKeyFile == "" {
		return
	}
	b, ok := c.ReadFile("network-key", o.networkKeyFile, psk.MaxFileSize)
	if !ok {
		return
	}
	k, err := psk.ParseKey(b)
	if err != nil {
		c.Fail("network-key", "%s: %v (pex keygen --out FILE makes a key file)", o.networkKeyFile, err)
		return
	}
	o.networkKey = k
	if fi, err := os.Stat(o.networkKeyFile); err == nil && fi.Mode().Perm()&0o004 != 0 {
		o.networkKeyMode = fi.Mode().Perm()
	}
}

// networkKeyFields are the fields the node's listening and started events
// carry in a private network: the key's fingerprint.
func (n *node) networkKeyFields() []any {
	if n.opts.networkKey == nil {
		return nil
	}
	return []any{"network_key", n.opts.networkKey.Fingerprint()}
}

// warnNetworkKey says when anyone on the machine can read the key.
func (n *node) warnNetworkKey() {
	if m := n.opts.networkKeyMode; m != 0 {
		n.pr.Event("network-key-readable", "file", n.opts.networkKeyFile, "mode", fmt.Sprintf("%04o", m),
			"why", "every user of this machine can read the network key and join the private network: chmod 600 it (or 640 for a group of its own)")
	}
}

// networkKeyRefused prints a link refused for its network key: an
// incoming one (a keyless node, the JS reference, another key's node, or
// with no --network-key a private network's node), or one this node
// dialed. A source repeating it is summed up, not echoed.
func (n *node) networkKeyRefused(side string, nk *pxp.NetworkKeyError, extra ...any) {
	f := append([]any{"side", side, "remote", nk.Remote, "transport", nk.Transport, "reason", nk.Error()}, extra...)
	n.pr.Limited("network-key "+side+" "+cli.HostOf(nk.Remote), "network-key", f...)
}
