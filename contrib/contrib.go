// Package contrib holds the files mailsync ships for service managers, as
// plain files a packager can copy, and embeds them so that `mailsync
// systemd install` writes the same units: systemd/ (the units, README.md
// and network/), openrc/, runit/ and launchd/.
package contrib

import "embed"

// Systemd is contrib/systemd: the units, README.md, and network/.
//
//go:embed systemd
var Systemd embed.FS
