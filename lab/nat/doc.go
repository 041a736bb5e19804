// Package nat tests PXP introductions across NATs: pex nodes in home
// networks of the lab in internal/natlab, behind routers of every kind,
// introduced to each other by a public relay, with a public STUN and TURN
// server (pex turn). Its tests print the matrix of router pairs: how each
// pair connected (WebRTC and its ICE candidate type), and how long it
// took.
package nat
