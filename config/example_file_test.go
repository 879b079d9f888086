package config

import (
	"bytes"
	"os"
	"testing"
)

// The example loads as it is, and is the README's Configure block.
func TestExample(t *testing.T) {
	env := func(k string) string {
		if k == "HOME" {
			return "/home/me"
		}
		return ""
	}
	if _, err := Parse("example.toml", Example(), env); err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := bytes.Cut(readme, []byte("## Configure\n"))
	_, after, _ := bytes.Cut(section, []byte("```toml\n"))
	block, _, ok := bytes.Cut(after, []byte("```\n"))
	if !ok || !bytes.Equal(block, Example()) {
		t.Errorf("README.md's Configure block differs from config/example.toml; make them the same")
	}
}
