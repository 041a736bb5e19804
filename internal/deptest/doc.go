// Package deptest checks the shape of the module: which packages may import
// which heavy dependencies, and that every package has a doc comment. It has
// only tests.
package deptest
