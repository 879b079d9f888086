package config_test

import (
	"fmt"

	"mailsync/config"
)

func ExampleParse() {
	src := []byte(`
[accounts.personal.remote]
host = "imap.example.org"
port = 70000
user = "me@example.org"
password_command = "pass show mail"

[accounts.personal.local]
path = "~/Mail/personal"
layuot = "fs"
`)
	env := func(key string) string {
		if key == "HOME" {
			return "/home/me"
		}
		return ""
	}
	_, err := config.Parse("/home/me/.config/mailsync/config.toml", src, env)
	fmt.Println(err)
	// Output:
	// /home/me/.config/mailsync/config.toml:4: accounts.personal.remote.port: must be between 1 and 65535 (got 70000)
	// /home/me/.config/mailsync/config.toml:10: accounts.personal.local.layuot: unknown key; did you mean layout?
}

func ExampleFolderFilter() {
	f, _ := config.NewFolderFilter([]string{"*", "!Spam", "!Archive/*", "Archive/2024"})
	for _, name := range []string{"INBOX", "Spam", "Archive/2023", "Archive/2024", "Lists/go"} {
		fmt.Println(name, f.Match(name))
	}
	// Output:
	// INBOX true
	// Spam false
	// Archive/2023 false
	// Archive/2024 true
	// Lists/go true
}
