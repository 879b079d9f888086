package sync

import (
	"fmt"
	"sort"

	"mailsync/config"
	"mailsync/internal/remote"
)

// MappedFolder is one folder of an account as a sync pairs them: a server
// folder, a local folder, or both.
type MappedFolder struct {
	Canonical string // the canonical name; the server's name when it has none
	Remote    string // the server's name; for a local-only folder, the name a sync would create
	Local     string // the local name after folder_map; "" when it has none
	Dir       string // the local directory; "" when it has none
	OnServer  bool
	OnDisk    bool
	// Excluded is set when the folders patterns leave the folder out.
	Excluded bool
	// Err says why a sync cannot pair the folder, and Fix what to change;
	// both are empty when it can.
	Err, Fix string
}

// MapFolders pairs the server's mailboxes (boxes, as listed) with the local
// folders (localNames, as LocalLayout lists them under acct's local path)
// the way a sync does: canonical names, the folders patterns, folder_map
// and the layout. Mailboxes that cannot be selected are left out. It
// touches nothing; the result is sorted by canonical name.
func MapFolders(acct *config.Account, boxes []remote.Mailbox, localNames []string) []MappedFolder {
	rm := &acct.Remote
	layout := LocalLayout(acct)
	delim := hierarchyDelim(boxes)
	byName := make(map[string]*MappedFolder)
	var out []*MappedFolder
	add := func(f *MappedFolder) *MappedFolder {
		out = append(out, f)
		return f
	}
	for _, b := range boxes {
		if b.NoSelect {
			continue
		}
		c, err := canonicalName(b.Name, delim)
		if err != nil {
			f := add(&MappedFolder{Canonical: b.Name, Remote: b.Name, OnServer: true, Excluded: !rm.Filter.Match(b.Name)})
			if !f.Excluded {
				f.Err = err.Error()
				f.Fix = fmt.Sprintf("exclude it with %q in folders, or rename it on the server", "!"+b.Name)
			}
			continue
		}
		f := add(&MappedFolder{Canonical: c, Remote: b.Name, OnServer: true, Excluded: !rm.Filter.Match(c)})
		if rm.LocalCollision(c) {
			if !f.Excluded {
				f.Err = fmt.Sprintf("server folder %q has the same local name as a folder_map target", c)
				f.Fix = fmt.Sprintf("add %q to folder_map, or exclude it with %q in folders", c, "!"+c)
			}
			continue
		}
		f.Local = rm.MapToLocal(c)
		byName[c] = f
	}
	for _, ln := range localNames {
		c, ok := rm.MapToRemote(ln)
		if !ok {
			add(&MappedFolder{Canonical: ln, Local: ln, OnDisk: true,
				Err: errMapTarget(ln).Error(),
				Fix: "rename or remove the local folder, or change folder_map"})
			continue
		}
		if f := byName[c]; f != nil {
			f.OnDisk = true
			continue
		}
		f := add(&MappedFolder{Canonical: c, Local: ln, OnDisk: true, Excluded: !rm.Filter.Match(c)})
		byName[c] = f
		name, err := remoteName(c, delim)
		if err != nil && !f.Excluded {
			f.Err = err.Error()
			f.Fix = fmt.Sprintf("rename the local folder, or exclude it with %q in folders", "!"+c)
		}
		f.Remote = name
	}
	for _, f := range out {
		if f.Local == "" || f.Err != "" {
			continue
		}
		dir, err := layout.Dir(acct.Local.Path, f.Local)
		if err != nil {
			if !f.Excluded {
				f.Err = err.Error()
				f.Fix = "rename the folder, map it elsewhere with folder_map, or exclude it in folders"
			}
			continue
		}
		f.Dir = dir
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Canonical < out[j].Canonical })
	res := make([]MappedFolder, len(out))
	for i, f := range out {
		res[i] = *f
	}
	return res
}

// hierarchyDelim is the server's hierarchy separator: the first one its
// listing names (0 when it names none).
func hierarchyDelim(boxes []remote.Mailbox) rune {
	for _, b := range boxes {
		if b.Delim != 0 {
			return b.Delim
		}
	}
	return 0
}

// errMapTarget is why local folder ln is not synced: folder_map gives its
// name to another server folder.
func errMapTarget(ln string) error {
	return fmt.Errorf("local folder %q is the folder_map target name of another server folder; it is not synced", ln)
}
