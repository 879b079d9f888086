package foreign

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"mailsync/internal/state"
)

// Offlineimap reads offlineimap's status of a folder under its account
// directory (~/.offlineimap/Account-NAME): LocalStatus-sqlite/FOLDER, or
// the plain LocalStatus/FOLDER of older versions. folder is the folder's
// name as offlineimap's status names it: its local name with '/' as
// separator, which becomes '.' in the file name. It returns nil and no
// error when there is none.
func Offlineimap(ctx context.Context, accountDir, folder string) (*Hints, error) {
	base := offlineimapBasename(folder)
	p := filepath.Join(accountDir, "LocalStatus-sqlite", base)
	if _, err := os.Stat(p); err == nil {
		status, err := state.OfflineimapStatus(ctx, p)
		if err != nil {
			return nil, err
		}
		return offlineimapHints(status), nil
	}
	p = filepath.Join(accountDir, "LocalStatus", base)
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	status, err := parseOfflineimapPlain(bufio.NewScanner(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return offlineimapHints(status), nil
}

func offlineimapHints(status map[uint32]string) *Hints {
	h := &Hints{Tool: "offlineimap", byU: make(map[uint32]Hint, len(status))}
	for uid, flags := range status {
		h.byU[uid] = Hint{ServerUID: uid, Flags: maildirFlags(flags)}
	}
	return h
}

// lastDot is offlineimap's rule for a name that would end in "." (an
// invalid file name): that last component is spelled "dot".
var lastDot = regexp.MustCompile(`(^|/)\.$`)

// offlineimapBasename is offlineimap's getfolderbasename: '/' becomes '.'.
func offlineimapBasename(folder string) string {
	if folder == "" {
		return "."
	}
	return strings.ReplaceAll(lastDot.ReplaceAllString(folder, "${1}dot"), "/", ".")
}

const offlineimapMagic = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT "

// parseOfflineimapPlain reads a plain LocalStatus file: the magic line with
// its format, then "UID:FLAGS" (format 1) or "UID|FLAGS|MTIME|LABELS"
// (format 2) lines.
func parseOfflineimapPlain(sc *bufio.Scanner) (map[uint32]string, error) {
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("empty file")
	}
	magic := strings.TrimSpace(sc.Text())
	sep := ""
	switch magic {
	case offlineimapMagic + "1":
		sep = ":"
	case offlineimapMagic + "2":
		sep = "|"
	default:
		return nil, fmt.Errorf("not an offlineimap LocalStatus file (first line %.60q)", magic)
	}
	out := make(map[uint32]string)
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, sep)
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: no flags in %.60q", line, text)
		}
		uid, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil || uid == 0 {
			return nil, fmt.Errorf("line %d: bad UID in %.60q", line, text)
		}
		out[uint32(uid)] = fields[1]
	}
	return out, sc.Err()
}
