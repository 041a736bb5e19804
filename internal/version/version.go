// Package version holds pex's release, the one place it is written: the
// command prints it (pex version) and the BitTorrent engine tells peers
// it as its client name ("pex/<release>" in the extended handshake,
// client "pex" and version "<release>" in AZ_HANDSHAKE).
package version

// Release is pex's release.
const Release = "0.2.0-dev"
