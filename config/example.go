package config

import (
	_ "embed" // the annotated example config
	"slices"
)

//go:embed example.toml
var example []byte

// Example is an annotated config with every key, for `mailsync config
// example`: a file to start from. The README's Configure section shows the
// same text (a test keeps them equal).
func Example() []byte { return slices.Clone(example) }
