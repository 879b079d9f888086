package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/maildir"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

// Folder sync statuses, as `mailsync folders` shows them.
const (
	FolderSynced     = "synced"       // recorded in the state, the last sync of it ok
	FolderFailed     = "failed"       // its last sync failed
	FolderStopped    = "stopped"      // held by a safety stop
	FolderNotSynced  = "never-synced" // not in the state: the next sync pairs it
	FolderExcluded   = "excluded"     // left out by the folders patterns
	FolderUnmappable = "unmappable"   // a sync cannot pair it (see its error)
)

// FolderRow is one line of `mailsync folders`: a server folder and its
// local counterpart, side by side.
type FolderRow struct {
	msync.MappedFolder
	RemoteMessages *int // nil when not on the server, or STATUS was refused
	LocalMessages  *int // nil when not on disk
	Status         string
	LastSync       time.Time // zero when no sync of it was recorded
	Error          string    // the last sync's error, or why it cannot be paired
	Stop           string    // the safety stop that holds it, "" if none
	Resolve        string    // the command that clears the stop
}

// ListFolders lists account name's server and local folders, paired as a
// sync pairs them, with their message counts and what the state records
// of them. It changes nothing and creates no state file.
func ListFolders(ctx context.Context, cfg *config.Config, name string, log zerolog.Logger) ([]FolderRow, error) {
	a, err := Open(cfg, name, OpenOptions{Log: log})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	acct := a.Config()
	rep, err := readAccount(ctx, cfg, name) // report.go: opens no absent state
	if err != nil {
		return nil, err
	}
	recorded := make(map[string]state.FolderStatus, len(rep.Folders))
	for _, f := range rep.Folders {
		recorded[f.Name] = f
	}
	conn, err := a.DialConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer conn.Close()
	boxes, err := conn.List(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: listing the server's folders: %w", name, err)
	}
	counts := make(map[string]int, len(boxes))
	for _, b := range boxes {
		if b.Status != nil {
			counts[b.Name] = int(b.Status.Messages)
		}
	}
	locals, err := msync.LocalLayout(acct).List(acct.Local.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: listing local folders under %s: %w", name, acct.Local.Path, err)
	}
	var rows []FolderRow
	for _, f := range msync.MapFolders(acct, boxes, locals) {
		row := FolderRow{MappedFolder: f, Error: f.Err}
		if n, ok := counts[f.Remote]; ok && f.OnServer {
			row.RemoteMessages = &n
		}
		if f.OnDisk && f.Dir != "" {
			n := 0
			if _, err := (&maildir.Folder{Dir: f.Dir}).Each(func(maildir.Entry) { n++ }); err != nil {
				return nil, fmt.Errorf("%s/%s: counting local messages in %s: %w", name, f.Canonical, f.Dir, err)
			}
			row.LocalMessages = &n
		}
		rec, inState := recorded[f.Canonical]
		switch {
		case f.Err != "":
			row.Status = FolderUnmappable
		case f.Excluded:
			row.Status = FolderExcluded
		case inState && rec.Stop != "":
			row.Status, row.Stop, row.Error = FolderStopped, rec.Stop, rec.Error
			row.Resolve = rep.resolution(f.Canonical, rec.Stop)
		case inState && rec.Result == "error":
			row.Status, row.Error = FolderFailed, rec.Error
		case inState:
			row.Status = FolderSynced
		default:
			row.Status = FolderNotSynced
		}
		if inState && f.Err == "" && !f.Excluded {
			row.LastSync = rec.LastSync
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// WriteFoldersText writes the folders in columns: server name and message
// count, local name and message count, sync status.
func WriteFoldersText(w io.Writer, rows []FolderRow) {
	count := func(n *int) string {
		if n == nil {
			return "-"
		}
		return strconv.Itoa(*n)
	}
	table := [][]string{{"REMOTE", "MESSAGES", "LOCAL", "MESSAGES", "STATUS"}}
	for _, r := range rows {
		remote, local := "-", "-"
		if r.OnServer {
			remote = r.Remote
		}
		if r.Local != "" && (r.OnDisk || !r.Excluded) {
			local = r.Local
		}
		status := r.Status
		switch {
		case r.Stop != "":
			status += " (" + r.Stop + "): " + r.Error + "; to resolve: " + r.Resolve
		case r.Error != "":
			status += ": " + r.Error
		case r.Status == FolderNotSynced && !r.OnServer:
			status += " (the next sync creates it on the server)"
		case r.Status == FolderNotSynced && !r.OnDisk:
			status += " (the next sync creates it locally)"
		}
		table = append(table, []string{remote, count(r.RemoteMessages), local, count(r.LocalMessages), status})
	}
	widths := make([]int, 5)
	for _, row := range table {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, row := range table {
		var b strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			switch i {
			case 1, 3: // counts, right-aligned
				b.WriteString(pad + c + "  ")
			case 4:
				b.WriteString(c)
			default:
				b.WriteString(c + pad + "  ")
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// foldersJSON is the shape of `mailsync folders --json` (docs/json.md).
type foldersJSON struct {
	Account string           `json:"account"`
	Folders []folderPairJSON `json:"folders"`
}

type folderPairJSON struct {
	Remote         *string    `json:"remote"`
	Local          *string    `json:"local"`
	Path           *string    `json:"path"`
	RemoteMessages *int       `json:"remote_messages"`
	LocalMessages  *int       `json:"local_messages"`
	Status         string     `json:"status"`
	LastSync       *time.Time `json:"last_sync"`
	Stop           string     `json:"stop,omitempty"`
	Resolve        string     `json:"resolve,omitempty"`
	Error          string     `json:"error,omitempty"`
}

// WriteFoldersJSON writes the --json form of `mailsync folders`.
func WriteFoldersJSON(w io.Writer, name string, rows []FolderRow) error {
	out := foldersJSON{Account: name, Folders: []folderPairJSON{}}
	for _, r := range rows {
		m := mappingOf(r.MappedFolder)
		f := folderPairJSON{Remote: m.Remote, Local: m.Local, Path: m.Path, RemoteMessages: r.RemoteMessages, LocalMessages: r.LocalMessages,
			Status: r.Status, Stop: r.Stop, Resolve: r.Resolve, Error: r.Error}
		if !r.LastSync.IsZero() {
			t := r.LastSync.UTC()
			f.LastSync = &t
		}
		out.Folders = append(out.Folders, f)
	}
	return writeJSON(w, out)
}
