package sync

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

const planMD5 = "fmd5-of-this-folder"

// planFile is a local file with the given name; it goes to cur/ when it has
// info, as mail clients do.
func planFile(t *testing.T, file string) maildir.Entry {
	t.Helper()
	n, err := maildir.ParseName(file)
	if err != nil {
		t.Fatal(err)
	}
	sub := maildir.New
	if n.HasInfo {
		sub = maildir.Cur
	}
	return maildir.Entry{Sub: sub, File: file, Name: n}
}

func planRow(id int64, uid uint32, key, flags string) state.Message {
	return state.Message{ID: id, UID: uid, Key: key, Flags: flags}
}

func planUIDs(uids ...uint32) map[uint32]bool {
	m := make(map[uint32]bool)
	for _, u := range uids {
		m[u] = true
	}
	return m
}

func planFlags(kv ...any) map[uint32]flagSet {
	m := make(map[uint32]flagSet)
	for i := 0; i < len(kv); i += 2 {
		m[uint32(kv[i].(int))] = parseMaildirFlags(kv[i+1].(string))
	}
	return m
}

func planRowString(r state.Message) string {
	return fmt.Sprintf("uid=%d key=%s flags=%s", r.UID, r.Key, r.Flags)
}

// planRender lists every bucket of p, one line per item, buckets in a fixed
// order, so a comparison also proves that the other buckets are empty. The
// local target flags of a pull are shown only when they differ from the
// flags the state records (new=).
func planRender(p plan) []string {
	var out []string
	for _, u := range p.download {
		out = append(out, fmt.Sprintf("download %d", u))
	}
	for _, e := range p.upload {
		out = append(out, "upload "+e.File)
	}
	for _, a := range p.adopt {
		out = append(out, fmt.Sprintf("adopt %s uid=%d remote=%s", a.entry.File, a.uid, a.remote.maildir()))
	}
	for _, f := range p.push {
		s := fmt.Sprintf("push %s add=%s del=%s new=%s pull=%v", planRowString(f.row), f.add.maildir(), f.del.maildir(), f.newFlags.maildir(), f.pull)
		if f.pull {
			s += " from=" + f.localFrom.File
			if f.target != f.newFlags {
				s += " target=" + f.target.maildir()
			}
		}
		out = append(out, s)
	}
	for _, f := range p.pull {
		s := fmt.Sprintf("pull %s file=%s new=%s", planRowString(f.row), f.entry.File, f.newFlags.maildir())
		if f.target != f.newFlags {
			s += " target=" + f.target.maildir()
		}
		out = append(out, s)
	}
	for _, r := range p.rebase {
		out = append(out, "rebase "+planRowString(r))
	}
	for _, r := range p.deleteRemote {
		out = append(out, "deleteRemote "+planRowString(r))
	}
	for _, d := range p.deleteLocal {
		out = append(out, fmt.Sprintf("deleteLocal %s file=%s", planRowString(d.row), d.entry.File))
	}
	for _, r := range p.forget {
		out = append(out, "forget "+planRowString(r))
	}
	for _, r := range p.keepLocal {
		out = append(out, "keepLocal "+planRowString(r))
	}
	for _, r := range p.keepRemote {
		out = append(out, "keepRemote "+planRowString(r))
	}
	return out
}

func planCheck(t *testing.T, in planInput, want []string) {
	t.Helper()
	p := makePlan(in)
	got := planRender(p)
	if len(got) == 0 && len(want) == 0 {
		if !p.empty() {
			t.Fatal("plan renders empty but empty() is false")
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if p.empty() {
		t.Fatal("empty() is true for a non-empty plan")
	}
}

var (
	planBoth      = sidePolicy{syncDeletes: true}
	planReadOnly  = sidePolicy{readOnly: true, syncDeletes: true}
	planNoDeletes = sidePolicy{}
)

// TestPlanChangePairs covers one state row (uid 1, key k1, agreed flags S)
// against every combination of {unchanged, flags changed, deleted} on each
// side, under each side policy. The local change adds F, the remote change
// adds R.
func TestPlanChangePairs(t *testing.T) {
	const row = "uid=1 key=k1 flags=S"
	type side int
	const (
		same side = iota
		changed
		deleted
	)
	sideName := []string{"same", "changed", "deleted"}
	policies := []struct {
		name          string
		local, remote sidePolicy
	}{
		{"default", planBoth, planBoth},
		{"localRO", planReadOnly, planBoth},
		{"remoteRO", planBoth, planReadOnly},
		{"noDeletes", planNoDeletes, planNoDeletes},
		{"localDeletesOnly", planBoth, planNoDeletes},
		{"remoteDeletesOnly", planNoDeletes, planBoth},
	}
	// want[policy][local][remote]; nil means an empty plan.
	want := map[string][3][3][]string{
		"default": {
			same: {
				same:    nil,
				changed: {"pull " + row + " file=k1:2,S new=RS"},
				deleted: {"deleteLocal " + row + " file=k1:2,S"},
			},
			changed: {
				same:    {"push " + row + " add=F del= new=FS pull=false"},
				changed: {"push " + row + " add=F del= new=FRS pull=true from=k1:2,FS"},
				deleted: {"deleteLocal " + row + " file=k1:2,FS"},
			},
			deleted: {
				same:    {"deleteRemote " + row},
				changed: {"deleteRemote " + row},
				deleted: {"forget " + row},
			},
		},
		"localRO": {
			same: {
				same: nil,
				// Nothing may change locally; the state keeps S so the
				// remote change still shows next time.
				changed: nil,
				deleted: {"keepLocal " + row},
			},
			changed: {
				same: {"push " + row + " add=F del= new=FS pull=false"},
				// The server gets F; the state records the local value.
				changed: {"push " + row + " add=F del= new=FS pull=false"},
				deleted: {"keepLocal " + row},
			},
			deleted: {
				same:    {"deleteRemote " + row},
				changed: {"deleteRemote " + row},
				deleted: {"forget " + row},
			},
		},
		"remoteRO": {
			same: {
				same:    nil,
				changed: {"pull " + row + " file=k1:2,S new=RS"},
				deleted: {"deleteLocal " + row + " file=k1:2,S"},
			},
			changed: {
				same: nil,
				// The local file gets the merge; the state keeps the
				// server's flags so the local F still shows as a change.
				changed: {"pull " + row + " file=k1:2,FS new=RS target=FRS"},
				deleted: {"deleteLocal " + row + " file=k1:2,FS"},
			},
			deleted: {
				same:    {"keepRemote " + row},
				changed: {"keepRemote " + row},
				deleted: {"forget " + row},
			},
		},
		"noDeletes": {
			same: {
				same:    nil,
				changed: {"pull " + row + " file=k1:2,S new=RS"},
				deleted: {"keepLocal " + row},
			},
			changed: {
				same:    {"push " + row + " add=F del= new=FS pull=false"},
				changed: {"push " + row + " add=F del= new=FRS pull=true from=k1:2,FS"},
				deleted: {"keepLocal " + row},
			},
			deleted: {
				same:    {"keepRemote " + row},
				changed: {"keepRemote " + row},
				deleted: {"forget " + row},
			},
		},
		"localDeletesOnly": {
			same:    {same: nil, changed: {"pull " + row + " file=k1:2,S new=RS"}, deleted: {"keepLocal " + row}},
			changed: {same: {"push " + row + " add=F del= new=FS pull=false"}, changed: {"push " + row + " add=F del= new=FRS pull=true from=k1:2,FS"}, deleted: {"keepLocal " + row}},
			deleted: {same: {"deleteRemote " + row}, changed: {"deleteRemote " + row}, deleted: {"forget " + row}},
		},
		"remoteDeletesOnly": {
			same:    {same: nil, changed: {"pull " + row + " file=k1:2,S new=RS"}, deleted: {"deleteLocal " + row + " file=k1:2,S"}},
			changed: {same: {"push " + row + " add=F del= new=FS pull=false"}, changed: {"push " + row + " add=F del= new=FRS pull=true from=k1:2,FS"}, deleted: {"deleteLocal " + row + " file=k1:2,FS"}},
			deleted: {same: {"keepRemote " + row}, changed: {"keepRemote " + row}, deleted: {"forget " + row}},
		},
	}
	for _, pol := range policies {
		for l := same; l <= deleted; l++ {
			for r := same; r <= deleted; r++ {
				name := fmt.Sprintf("%s/local_%s/remote_%s", pol.name, sideName[l], sideName[r])
				t.Run(name, func(t *testing.T) {
					in := planInput{
						state:       []state.Message{planRow(1, 1, "k1", "S")},
						remoteUIDs:  planUIDs(),
						remoteFlags: planFlags(),
						folderMD5:   planMD5,
						localSide:   pol.local,
						remoteSide:  pol.remote,
					}
					switch l {
					case same:
						in.local = []maildir.Entry{planFile(t, "k1:2,S")}
					case changed:
						in.local = []maildir.Entry{planFile(t, "k1:2,FS")}
					}
					switch r {
					case same:
						in.remoteUIDs[1] = true
						in.remoteFlags[1] = flagSeen
					case changed:
						in.remoteUIDs[1] = true
						in.remoteFlags[1] = flagSeen | flagAnswered
					}
					planCheck(t, in, want[pol.name][l][r])
				})
			}
		}
	}
}

// planApplyPush and planApplyPull model what applyFlags (folder.go) does
// with a push or pull: STORE add/del on the server, rename the local file to
// target (keeping letters mailsync doesn't manage) and record newFlags in
// the state. Keep them in step with applyFlags.
func planApplyPush(f flagPush, local, remote flagSet) (newLocal, newRemote, agreed flagSet) {
	newRemote = (remote | f.add) &^ f.del
	newLocal = local
	if f.pull {
		newLocal = parseMaildirFlags(withMaildirFlags(local.maildir(), f.target))
	}
	return newLocal, newRemote, f.newFlags
}

func planApplyPull(f flagPull, local flagSet) (newLocal, agreed flagSet) {
	return parseMaildirFlags(withMaildirFlags(local.maildir(), f.target)), f.newFlags
}

// TestPlanFlagsConverge applies the plan's flag buckets to a model of the two
// sides the way applyFlags does (see planApplyPush) and checks, for every
// combination of base, local and remote flags over {F, S} and every
// read-only policy, that
//   - a read-only side is left alone,
//   - a writable side ends with the per-flag three-way merge, so no change
//     made on either side is lost,
//   - a second plan on the result is empty (no flapping).
func TestPlanFlagsConverge(t *testing.T) {
	subsets := []flagSet{0, flagFlagged, flagSeen, flagFlagged | flagSeen}
	policies := []struct {
		name          string
		local, remote sidePolicy
	}{
		{"default", planBoth, planBoth},
		{"localRO", planReadOnly, planBoth},
		{"remoteRO", planBoth, planReadOnly},
	}
	for _, pol := range policies {
		for _, base := range subsets {
			for _, l := range subsets {
				for _, r := range subsets {
					name := fmt.Sprintf("%s/base=%s/local=%s/remote=%s", pol.name, base.maildir(), l.maildir(), r.maildir())
					t.Run(name, func(t *testing.T) {
						local, remote, agreed := l, r, base
						run := func() plan {
							file := "k1:2," + local.maildir()
							return makePlan(planInput{
								state:       []state.Message{planRow(1, 1, "k1", agreed.maildir())},
								local:       []maildir.Entry{planFile(t, file)},
								remoteUIDs:  planUIDs(1),
								remoteFlags: map[uint32]flagSet{1: remote},
								folderMD5:   planMD5,
								localSide:   pol.local,
								remoteSide:  pol.remote,
							})
						}
						p := run()
						if n := len(p.download) + len(p.upload) + len(p.adopt) + len(p.deleteLocal) + len(p.deleteRemote) +
							len(p.forget) + len(p.keepLocal) + len(p.keepRemote); n != 0 {
							t.Fatalf("flag-only change produced other work: %q", planRender(p))
						}
						if len(p.push)+len(p.pull)+len(p.rebase) > 1 {
							t.Fatalf("row in more than one bucket: %q", planRender(p))
						}
						for _, f := range p.push {
							local, remote, agreed = planApplyPush(f, local, remote)
						}
						for _, f := range p.pull {
							local, agreed = planApplyPull(f, local)
						}
						for _, rb := range p.rebase {
							agreed = parseMaildirFlags(rb.Flags)
						}
						merged := merge3(base, l, r)
						wantLocal, wantRemote := merged, merged
						if pol.local.readOnly {
							wantLocal = l
						}
						if pol.remote.readOnly {
							wantRemote = r
						}
						if local != wantLocal || remote != wantRemote {
							t.Fatalf("after sync local=%q remote=%q, want local=%q remote=%q (plan %q)",
								local.maildir(), remote.maildir(), wantLocal.maildir(), wantRemote.maildir(), planRender(p))
						}
						if p2 := run(); !p2.empty() {
							t.Fatalf("second sync (state %q) not empty: %q", agreed.maildir(), planRender(p2))
						}
					})
				}
			}
		}
	}
}

func TestPlanFlagMerges(t *testing.T) {
	tests := []struct {
		name                string
		base, local, remote string
		want                []string
	}{
		{"local adds F, remote adds S", "", "F", "S",
			[]string{"push uid=1 key=k1 flags= add=F del= new=FS pull=true from=k1:2,F"}},
		{"local removes S, remote adds F", "S", "", "FS",
			[]string{"push uid=1 key=k1 flags=S add= del=S new=F pull=true from=k1:2,"}},
		{"local adds F, remote removes S", "S", "FS", "",
			[]string{"push uid=1 key=k1 flags=S add=F del= new=F pull=true from=k1:2,FS"}},
		{"each removes one", "FS", "S", "F",
			[]string{"push uid=1 key=k1 flags=FS add= del=F new= pull=true from=k1:2,S"}},
		{"local removes all", "DFRS", "", "DFRS",
			[]string{"push uid=1 key=k1 flags=DFRS add= del=DFRS new= pull=false"}},
		{"remote removes all", "DFRS", "DFRS", "",
			[]string{"pull uid=1 key=k1 flags=DFRS file=k1:2,DFRS new="}},
		{"same addition on both", "S", "RS", "RS",
			[]string{"rebase uid=1 key=k1 flags=RS"}},
		{"same removal on both", "S", "", "",
			[]string{"rebase uid=1 key=k1 flags="}},
		{"local adds trashed", "S", "ST", "S",
			[]string{"push uid=1 key=k1 flags=S add=T del= new=ST pull=false"}},
		{"unmanaged letter is not a change", "S", "SZ", "S", nil},
		{"state flags in any order", "SF", "FS", "FS", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			planCheck(t, planInput{
				state:       []state.Message{planRow(1, 1, "k1", tc.base)},
				local:       []maildir.Entry{planFile(t, "k1:2,"+tc.local)},
				remoteUIDs:  planUIDs(1),
				remoteFlags: planFlags(1, tc.remote),
				folderMD5:   planMD5,
				localSide:   planBoth,
				remoteSide:  planBoth,
			}, tc.want)
		})
	}
}

// A UID missing from remoteFlags has the flags recorded in the state; a UID
// present with no flags has none.
func TestPlanRemoteFlagsMissing(t *testing.T) {
	tests := []struct {
		name        string
		local       string
		remoteFlags map[uint32]flagSet
		want        []string
	}{
		{"missing, local same", "k1:2,S", nil, nil},
		{"missing from empty map, local same", "k1:2,S", planFlags(), nil},
		{"missing, local changed", "k1:2,FS", nil,
			[]string{"push uid=1 key=k1 flags=S add=F del= new=FS pull=false"}},
		{"missing, local cleared", "k1:2,", planFlags(2, "F"),
			[]string{"push uid=1 key=k1 flags=S add= del=S new= pull=false"}},
		{"present and empty, local same", "k1:2,S", planFlags(1, ""),
			[]string{"pull uid=1 key=k1 flags=S file=k1:2,S new="}},
		{"present and equal", "k1:2,S", planFlags(1, "S"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			planCheck(t, planInput{
				state:       []state.Message{planRow(1, 1, "k1", "S")},
				local:       []maildir.Entry{planFile(t, tc.local)},
				remoteUIDs:  planUIDs(1, 2),
				remoteFlags: tc.remoteFlags,
				folderMD5:   planMD5,
				localSide:   planBoth,
				remoteSide:  planBoth,
			}, append([]string{"download 2"}, tc.want...))
		})
	}
}

func TestPlanNewMessages(t *testing.T) {
	known := planRow(1, 1, "k1", "S")
	tests := []struct {
		name          string
		local         []string
		remote        []uint32
		localSide     sidePolicy
		remoteSide    sidePolicy
		want          []string
		withKnownFile bool
	}{
		{"nothing", nil, nil, planBoth, planBoth, nil, false},
		{"new local only", []string{"n1"}, nil, planBoth, planBoth, []string{"upload n1"}, false},
		{"new remote only", nil, []uint32{7}, planBoth, planBoth, []string{"download 7"}, false},
		{"new on both are independent", []string{"n1"}, []uint32{7}, planBoth, planBoth,
			[]string{"download 7", "upload n1"}, false},
		{"downloads sorted", nil, []uint32{9, 3, 7, 5}, planBoth, planBoth,
			[]string{"download 3", "download 5", "download 7", "download 9"}, false},
		{"uploads in scan order", []string{"n2:2,S", "n1"}, nil, planBoth, planBoth,
			[]string{"upload n2:2,S", "upload n1"}, false},
		{"known pair plus new on both", []string{"n1"}, []uint32{1, 7}, planBoth, planBoth,
			[]string{"download 7", "upload n1"}, true},
		{"local read-only: no download", []string{"n1"}, []uint32{7}, planReadOnly, planBoth,
			[]string{"upload n1"}, false},
		{"remote read-only: no upload", []string{"n1"}, []uint32{7}, planBoth, planReadOnly,
			[]string{"download 7"}, false},
		{"no deletes still transfers new", []string{"n1"}, []uint32{7}, planNoDeletes, planNoDeletes,
			[]string{"download 7", "upload n1"}, false},
		// A U= from another tool, without FMD5, is not trusted.
		{"U= without FMD5 is uploaded", []string{"n1,U=7:2,S"}, []uint32{7}, planBoth, planBoth,
			[]string{"download 7", "upload n1,U=7:2,S"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := planInput{
				remoteUIDs: planUIDs(tc.remote...),
				folderMD5:  planMD5,
				localSide:  tc.localSide,
				remoteSide: tc.remoteSide,
			}
			if tc.withKnownFile {
				in.state = []state.Message{known}
				in.local = append(in.local, planFile(t, "k1:2,S"))
			}
			for _, f := range tc.local {
				in.local = append(in.local, planFile(t, f))
			}
			planCheck(t, in, tc.want)
		})
	}
}

// Tombstone rows record a deletion that was not propagated: key "" (local
// copy gone, server copy kept) or uid 0 (server copy gone, local file kept).
func TestPlanTombstones(t *testing.T) {
	tests := []struct {
		name   string
		row    state.Message
		local  []string
		remote map[uint32]flagSet
		want   []string
	}{
		{"no local copy, server copy still there", planRow(1, 1, "", "S"), nil, planFlags(1, "S"), nil},
		{"no local copy, server flags changed", planRow(1, 1, "", "S"), nil, planFlags(1, "FS"), nil},
		{"no local copy, server copy gone", planRow(1, 1, "", "S"), nil, planFlags(),
			[]string{"forget uid=1 key= flags=S"}},
		{"no server copy, local file still there", planRow(1, 0, "k1", "S"), []string{"k1:2,S"}, planFlags(), nil},
		{"no server copy, local flags changed", planRow(1, 0, "k1", "S"), []string{"k1:2,FS"}, planFlags(), nil},
		{"no server copy, local file gone", planRow(1, 0, "k1", "S"), nil, planFlags(),
			[]string{"forget uid=0 key=k1 flags=S"}},
		{"neither copy", planRow(1, 0, "", "S"), nil, planFlags(),
			[]string{"forget uid=0 key= flags=S"}},
	}
	for _, tc := range tests {
		for _, pol := range []struct {
			name          string
			local, remote sidePolicy
		}{{"default", planBoth, planBoth}, {"noDeletes", planNoDeletes, planNoDeletes}} {
			t.Run(tc.name+"/"+pol.name, func(t *testing.T) {
				in := planInput{
					state:       []state.Message{tc.row},
					remoteUIDs:  make(map[uint32]bool),
					remoteFlags: tc.remote,
					folderMD5:   planMD5,
					localSide:   pol.local,
					remoteSide:  pol.remote,
				}
				for u := range tc.remote {
					in.remoteUIDs[u] = true
				}
				for _, f := range tc.local {
					in.local = append(in.local, planFile(t, f))
				}
				// The tombstone's uid is not downloaded and its key not
				// uploaded: the want lists above contain neither.
				planCheck(t, in, tc.want)
			})
		}
	}
}

func TestPlanAdoption(t *testing.T) {
	mine := ",FMD5=" + planMD5
	tests := []struct {
		name        string
		state       []state.Message
		local       []string
		remoteUIDs  []uint32
		remoteFlags map[uint32]flagSet
		localSide   sidePolicy
		remoteSide  sidePolicy
		want        []string
	}{
		{"own U= on the server, not in state: adopt", nil,
			[]string{"a1,U=5" + mine + ":2,S"}, []uint32{5}, planFlags(5, "FS"), planBoth, planBoth,
			[]string{"adopt a1,U=5" + mine + ":2,S uid=5 remote=FS"}},
		{"remote flags unknown: file's flags", nil,
			[]string{"a1,U=5" + mine + ":2,RS"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"adopt a1,U=5" + mine + ":2,RS uid=5 remote=RS"}},
		{"FMD5 of another folder: upload and download", nil,
			[]string{"a1,U=5,FMD5=other:2,S"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"download 5", "upload a1,U=5,FMD5=other:2,S"}},
		{"uid not on server: upload", nil,
			[]string{"a1,U=5" + mine + ":2,S"}, []uint32{6}, nil, planBoth, planBoth,
			[]string{"download 6", "upload a1,U=5" + mine + ":2,S"}},
		{"two files claim one uid: first adopted, second uploaded", nil,
			[]string{"a1,U=5" + mine + ":2,S", "a2,U=5" + mine + ":2,S"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"upload a2,U=5" + mine + ":2,S", "adopt a1,U=5" + mine + ":2,S uid=5 remote=S"}},
		{"uid already paired in state: the copy is uploaded",
			[]state.Message{planRow(1, 5, "k5", "S")},
			[]string{"k5,U=5" + mine + ":2,S", "a1,U=5" + mine + ":2,S"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"upload a1,U=5" + mine + ":2,S"}},
		{"uid recorded as locally deleted, file restored: re-paired, not uploaded again",
			[]state.Message{planRow(1, 5, "", "S")},
			[]string{"a1,U=5" + mine + ":2,S"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"adopt a1,U=5" + mine + ":2,S uid=5 remote=S"}},
		{"uid recorded as locally deleted, file from another folder: uploaded",
			[]state.Message{planRow(1, 5, "", "S")},
			[]string{"a1,U=5,FMD5=other:2,S"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"upload a1,U=5,FMD5=other:2,S"}},
		{"key already in state: neither adopted nor uploaded",
			[]state.Message{planRow(1, 0, "a1", "S")},
			[]string{"a1,U=5" + mine + ":2,S"}, []uint32{5}, nil, planBoth, planBoth,
			[]string{"download 5"}},
		{"adopt with remote read-only", nil,
			[]string{"a1,U=5" + mine + ":2,S", "n1"}, []uint32{5, 6}, nil, planBoth, planReadOnly,
			[]string{"download 6", "adopt a1,U=5" + mine + ":2,S uid=5 remote=S"}},
		{"adopt with local read-only", nil,
			[]string{"a1,U=5" + mine + ":2,S", "n1"}, []uint32{5, 6}, nil, planReadOnly, planBoth,
			[]string{"upload n1", "adopt a1,U=5" + mine + ":2,S uid=5 remote=S"}},
		{"mixed", []state.Message{planRow(1, 1, "k1", "S")},
			[]string{"k1:2,S", "a1,U=5" + mine + ":2,S", "a2,U=6,FMD5=x:2,S", "n1"}, []uint32{1, 5, 6, 7}, nil, planBoth, planBoth,
			[]string{"download 6", "download 7", "upload a2,U=6,FMD5=x:2,S", "upload n1", "adopt a1,U=5" + mine + ":2,S uid=5 remote=S"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := planInput{
				state:       tc.state,
				remoteUIDs:  planUIDs(tc.remoteUIDs...),
				remoteFlags: tc.remoteFlags,
				folderMD5:   planMD5,
				localSide:   tc.localSide,
				remoteSide:  tc.remoteSide,
			}
			for _, f := range tc.local {
				in.local = append(in.local, planFile(t, f))
			}
			planCheck(t, in, tc.want)
		})
	}
}

// Several rows in one plan each land in their own bucket.
func TestPlanManyRows(t *testing.T) {
	in := planInput{
		state: []state.Message{
			planRow(1, 1, "k1", "S"), // unchanged
			planRow(2, 2, "k2", "S"), // local flag change
			planRow(3, 3, "k3", "S"), // remote flag change
			planRow(4, 4, "k4", "S"), // deleted locally
			planRow(5, 5, "k5", "S"), // deleted on the server
			planRow(6, 6, "k6", "S"), // deleted on both
			planRow(7, 7, "", "S"),   // tombstone, still on the server
			planRow(8, 0, "k8", "S"), // tombstone, local file kept
		},
		local: []maildir.Entry{
			planFile(t, "k1:2,S"), planFile(t, "k2:2,FS"), planFile(t, "k3:2,S"),
			planFile(t, "k5:2,S"), planFile(t, "k8:2,S"), planFile(t, "n1"),
		},
		remoteUIDs:  planUIDs(1, 2, 3, 4, 7, 9),
		remoteFlags: planFlags(3, ""),
		folderMD5:   planMD5,
		localSide:   planBoth,
		remoteSide:  planBoth,
	}
	planCheck(t, in, []string{
		"download 9",
		"upload n1",
		"push uid=2 key=k2 flags=S add=F del= new=FS pull=false",
		"pull uid=3 key=k3 flags=S file=k3:2,S new=",
		"deleteRemote uid=4 key=k4 flags=S",
		"deleteLocal uid=5 key=k5 flags=S file=k5:2,S",
		"forget uid=6 key=k6 flags=S",
	})
}

func TestPlanEmpty(t *testing.T) {
	if !(&plan{}).empty() {
		t.Error("zero plan not empty")
	}
	for i, p := range []plan{
		{download: []uint32{1}},
		{upload: []maildir.Entry{{}}},
		{adopt: []adoption{{}}},
		{push: []flagPush{{}}},
		{pull: []flagPull{{}}},
		{rebase: []state.Message{{}}},
		{deleteRemote: []state.Message{{}}},
		{deleteLocal: []deletion{{}}},
		{forget: []state.Message{{}}},
		{keepLocal: []state.Message{{}}},
		{keepRemote: []state.Message{{}}},
	} {
		if p.empty() {
			t.Errorf("plan %d with one item is empty", i)
		}
	}
}

// TestPlanUIDEvidence covers local files that carry this folder's FMD5 and a
// U= the state doesn't know and the server doesn't have. Only the download
// journal can say such a file was delivered by mailsync (by a run that was
// interrupted before recording it); otherwise its U= proves nothing and the
// file is uploaded, which never loses mail.
func TestPlanUIDEvidence(t *testing.T) {
	mine := ",FMD5=" + planMD5
	row := planRow(1, 3, "k3", "S")
	local := []string{"k3:2,S", "a,U=12" + mine + ":2,S"}
	tests := []struct {
		name                  string
		fetched               map[uint32]bool
		localSide, remoteSide sidePolicy
		want                  []string
	}{
		{"journaled download, expunged since: a server deletion", planUIDs(11, 12, 13), planBoth, planBoth,
			[]string{"deleteLocal uid=0 key= flags= file=a,U=12" + mine + ":2,S"}},
		{"same, server deletions not propagated: kept as a local-only pair", planUIDs(12), planBoth, planNoDeletes,
			[]string{"adopt a,U=12" + mine + ":2,S uid=0 remote="}},
		{"same, local side read-only: kept as a local-only pair", planUIDs(12), planReadOnly, planBoth,
			[]string{"adopt a,U=12" + mine + ":2,S uid=0 remote="}},
		{"no journal entry (from another account, a backup, an old UIDVALIDITY): uploaded", nil, planBoth, planBoth,
			[]string{"upload a,U=12" + mine + ":2,S"}},
		{"journal names other UIDs: uploaded", planUIDs(13), planBoth, planBoth,
			[]string{"upload a,U=12" + mine + ":2,S"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []maildir.Entry
			for _, f := range local {
				files = append(files, planFile(t, f))
			}
			planCheck(t, planInput{
				state: []state.Message{row}, local: files, remoteUIDs: planUIDs(3), folderMD5: planMD5,
				localSide: tt.localSide, remoteSide: tt.remoteSide, fetchedByUs: tt.fetched,
			}, tt.want)
		})
	}
}

// TestPlanIncompleteListing: when the local listing may have missed files
// (a mail client renamed them while it was read), a missing file is not a
// deletion; everything else proceeds.
func TestPlanIncompleteListing(t *testing.T) {
	in := planInput{
		state:      []state.Message{planRow(1, 1, "k1", "S"), planRow(2, 2, "k2", "S")},
		local:      []maildir.Entry{planFile(t, "k2:2,FS")},
		remoteUIDs: planUIDs(1, 2, 3), folderMD5: planMD5,
		localSide: planBoth, remoteSide: planBoth, localIncomplete: true,
	}
	planCheck(t, in, []string{"download 3", "push uid=2 key=k2 flags=S add=F del= new=FS pull=false"})
	in.localIncomplete = false
	planCheck(t, in, []string{"download 3", "push uid=2 key=k2 flags=S add=F del= new=FS pull=false",
		"deleteRemote uid=1 key=k1 flags=S"})
}
