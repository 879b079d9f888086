package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

// ldFixture is a folder whose state records pairs and whose listing is,
// until a test case changes it, exactly what the state records.
type ldFixture struct {
	fs      *folderSync
	pairs   []state.Message  // every recorded row, with its id
	files   map[int64]string // recorded pair id → its listed file, "sub/name"
	listing []maildir.Entry  // the files the state records, in pair order
}

// Sizes of the fixture's server-only (no local copy) and local-only (no
// server copy) rows, besides the n regular pairs.
const (
	ldServerOnly = 3
	ldLocalOnly  = 2
)

var ldFlags = []string{"S", "", "FS", "RS", "S", "DS", "PS", "F"}

// newLDFixture records n pairs with a local copy (ldLocalOnly of them
// without a server copy) and ldServerOnly rows without a local copy, and
// lists the pairs' files as mailsync would have named them.
func newLDFixture(t *testing.T, n int) *ldFixture {
	t.Helper()
	ctx := context.Background()
	store, err := state.Open(ctx, filepath.Join(t.TempDir(), "t.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f, err := store.EnsureFolder(ctx, "INBOX", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	md5 := maildir.FolderMD5("INBOX")
	fx := &ldFixture{
		fs:    &folderSync{e: &Engine{store: store}, st: f, md5: md5},
		files: make(map[int64]string),
	}
	tx, err := store.Begin(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	add := func(m state.Message) state.Message {
		t.Helper()
		id, err := tx.Insert(m)
		if err != nil {
			t.Fatal(err)
		}
		m.ID = id
		fx.pairs = append(fx.pairs, m)
		return m
	}
	for i := 1; i <= n; i++ {
		m := state.Message{
			UID:       uint32(i),
			Key:       fmt.Sprintf("1700000000.M%dP4242Q%d.host", 100000+i, i),
			Flags:     ldFlags[i%len(ldFlags)],
			Size:      int64(1000 + i),
			MessageID: fmt.Sprintf("<m%d@example.org>", i),
		}
		var file string
		switch {
		case i <= ldLocalOnly:
			// The server's copy is gone and the deletion was not
			// propagated: the file is still there.
			m.UID = 0
			m.Flags = "S"
			file = fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,S", m.Key, 90000+i, md5)
		case m.Flags == "":
			file = fmt.Sprintf("new/%s,U=%d,FMD5=%s", m.Key, m.UID, md5)
		default:
			file = fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,%s", m.Key, m.UID, md5, m.Flags)
		}
		m = add(m)
		fx.files[m.ID] = file
		fx.listing = append(fx.listing, ldEntry(t, file))
	}
	for i := 1; i <= ldServerOnly; i++ {
		// The local file was deleted and the deletion not propagated.
		add(state.Message{UID: uint32(n + i), Flags: "S", Size: 500, MessageID: fmt.Sprintf("<s%d@example.org>", i)})
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return fx
}

// ldEntry is the listing entry of a file given as "sub/name".
func ldEntry(t *testing.T, file string) maildir.Entry {
	t.Helper()
	sub, name, ok := strings.Cut(file, "/")
	if !ok || (sub != string(maildir.Cur) && sub != string(maildir.New)) {
		t.Fatalf("bad test file %q", file)
	}
	n, err := maildir.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	return maildir.Entry{Sub: maildir.Sub(sub), File: name, Name: n}
}

// keyed are the recorded pairs with a local copy.
func (fx *ldFixture) keyed() []state.Message {
	var out []state.Message
	for _, p := range fx.pairs {
		if p.Key != "" {
			out = append(out, p)
		}
	}
	return out
}

// inBucket returns the recorded pairs whose key falls in bucket b.
func (fx *ldFixture) inBucket(b int) []state.Message {
	var out []state.Message
	for _, p := range fx.keyed() {
		if state.Bucket(p.Key) == b {
			out = append(out, p)
		}
	}
	return out
}

// pick returns the index (in pairs and listing) of the first regular pair
// (with a server copy and flags S) that shares its bucket with exactly
// others other pairs, or with at least one when others is -1.
func (fx *ldFixture) pick(t *testing.T, others int) int {
	t.Helper()
	for i, p := range fx.pairs {
		if p.Key == "" || p.UID == 0 || p.Flags != "S" {
			continue
		}
		n := len(fx.inBucket(state.Bucket(p.Key))) - 1
		if n == others || (others == -1 && n > 0) {
			return i
		}
	}
	t.Fatalf("no pair with %d others in its bucket", others)
	return -1
}

// newKey returns a key the state doesn't know, in a bucket that holds a
// recorded pair (shared) or none (!shared).
func (fx *ldFixture) newKey(t *testing.T, shared bool) string {
	t.Helper()
	for j := 1; j < 100000; j++ {
		k := fmt.Sprintf("1700000500.M%dP9999Q1.host", j)
		if (len(fx.inBucket(state.Bucket(k))) > 0) == shared {
			return k
		}
	}
	t.Fatal("no key found")
	return ""
}

// filesOf returns the listed files of pairs, except those in skip.
func (fx *ldFixture) filesOf(pairs []state.Message, skip ...int64) []string {
	var out []string
	for _, p := range pairs {
		if !slices.Contains(skip, p.ID) {
			out = append(out, fx.files[p.ID])
		}
	}
	return out
}

// without returns the pairs but those with the given ids.
func without(pairs []state.Message, ids ...int64) []state.Message {
	return slices.DeleteFunc(slices.Clone(pairs), func(m state.Message) bool { return slices.Contains(ids, m.ID) })
}

// asPair is a row as PairsInBuckets returns it: without size and Message-ID.
func asPair(m state.Message) state.Message {
	m.Size, m.MessageID = 0, ""
	return m
}

type ldWant struct {
	found   bool
	rows    []state.Message // in any order; compared field by field
	entries []string        // "sub/name", in any order, repeats counted
}

type ldCase struct {
	listing []maildir.Entry
	in      []state.Message // rows the server changed
	want    ldWant
}

func TestLocalDiff(t *testing.T) {
	md5 := maildir.FolderMD5("INBOX")
	tests := []struct {
		name  string
		pairs int // keyed pairs in the state
		setup func(t *testing.T, fx *ldFixture) ldCase
	}{
		{"listing equal to the state", 200, func(t *testing.T, fx *ldFixture) ldCase {
			return ldCase{listing: fx.listing, want: ldWant{found: true}}
		}},
		{"flags changed on a file alone in its bucket", 200, func(t *testing.T, fx *ldFixture) ldCase {
			i := fx.pick(t, 0)
			p := fx.pairs[i]
			file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,FS", p.Key, p.UID, md5)
			l := slices.Clone(fx.listing)
			l[i] = ldEntry(t, file)
			return ldCase{listing: l, want: ldWant{found: true, rows: []state.Message{asPair(p)}, entries: []string{file}}}
		}},
		{"flags changed on a file sharing its bucket", 200, func(t *testing.T, fx *ldFixture) ldCase {
			i := fx.pick(t, -1)
			p := fx.pairs[i]
			file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,RS", p.Key, p.UID, md5)
			l := slices.Clone(fx.listing)
			l[i] = ldEntry(t, file)
			b := fx.inBucket(state.Bucket(p.Key))
			rows := make([]state.Message, 0, len(b))
			for _, m := range b {
				rows = append(rows, asPair(m))
			}
			return ldCase{listing: l, want: ldWant{found: true, rows: rows, entries: append(fx.filesOf(b, p.ID), file)}}
		}},
		{"a client's new file in a bucket with pairs", 200, func(t *testing.T, fx *ldFixture) ldCase {
			file := "new/" + fx.newKey(t, true)
			b := fx.inBucket(state.Bucket(strings.TrimPrefix(file, "new/")))
			return ldCase{
				listing: append(slices.Clone(fx.listing), ldEntry(t, file)),
				want:    ldWant{found: true, rows: mapSlice(b, asPair), entries: append(fx.filesOf(b), file)},
			}
		}},
		{"a client's new file in an empty bucket", 200, func(t *testing.T, fx *ldFixture) ldCase {
			file := "cur/" + fx.newKey(t, false) + ":2,S"
			return ldCase{
				listing: append(slices.Clone(fx.listing), ldEntry(t, file)),
				want:    ldWant{found: true, entries: []string{file}},
			}
		}},
		{"a file deleted locally", 200, func(t *testing.T, fx *ldFixture) ldCase {
			i := fx.pick(t, -1)
			p := fx.pairs[i]
			b := fx.inBucket(state.Bucket(p.Key))
			return ldCase{
				listing: slices.Delete(slices.Clone(fx.listing), i, i+1),
				want:    ldWant{found: true, rows: mapSlice(b, asPair), entries: fx.filesOf(b, p.ID)},
			}
		}},
		{"a file deleted locally, alone in its bucket", 200, func(t *testing.T, fx *ldFixture) ldCase {
			i := fx.pick(t, 0)
			return ldCase{
				listing: slices.Delete(slices.Clone(fx.listing), i, i+1),
				want:    ldWant{found: true, rows: []state.Message{asPair(fx.pairs[i])}},
			}
		}},
		{"an unknown file with a UID of this folder", 200, func(t *testing.T, fx *ldFixture) ldCase {
			file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,S", fx.newKey(t, false), 5000, md5)
			return ldCase{listing: append(slices.Clone(fx.listing), ldEntry(t, file))}
		}},
		{"an unknown file with a recorded UID of this folder", 200, func(t *testing.T, fx *ldFixture) ldCase {
			// A copy of a message under a new key, in a bucket with pairs.
			p := fx.pairs[fx.pick(t, 0)]
			file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,S", fx.newKey(t, true), p.UID, md5)
			return ldCase{listing: append(slices.Clone(fx.listing), ldEntry(t, file))}
		}},
		{"an unknown file with another folder's UID", 200, func(t *testing.T, fx *ldFixture) ldCase {
			key := fx.newKey(t, true)
			file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,S", key, 5000, maildir.FolderMD5("Sent"))
			b := fx.inBucket(state.Bucket(key))
			return ldCase{
				listing: append(slices.Clone(fx.listing), ldEntry(t, file)),
				want:    ldWant{found: true, rows: mapSlice(b, asPair), entries: append(fx.filesOf(b), file)},
			}
		}},
		{"a new file with this folder's FMD5 but no UID", 200, func(t *testing.T, fx *ldFixture) ldCase {
			key := fx.newKey(t, true)
			file := fmt.Sprintf("cur/%s,FMD5=%s:2,S", key, md5)
			b := fx.inBucket(state.Bucket(key))
			return ldCase{
				listing: append(slices.Clone(fx.listing), ldEntry(t, file)),
				want:    ldWant{found: true, rows: mapSlice(b, asPair), entries: append(fx.filesOf(b), file)},
			}
		}},
		{"server-changed rows outside the differing buckets", 200, func(t *testing.T, fx *ldFixture) ldCase {
			ctx := context.Background()
			i := fx.pick(t, -1)
			x := fx.pairs[i]
			bx := state.Bucket(x.Key)
			file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,FS", x.Key, x.UID, md5)
			l := slices.Clone(fx.listing)
			l[i] = ldEntry(t, file)
			// Rows as incrementalPlan reads them: three pairs in other
			// buckets, the changed pair itself, a server-only row.
			var others []state.Message
			uids := []uint32{x.UID}
			for _, p := range fx.keyed() {
				if p.UID != 0 && state.Bucket(p.Key) != bx && len(others) < 3 {
					others = append(others, p)
					uids = append(uids, p.UID)
				}
			}
			serverOnly := fx.pairs[len(fx.pairs)-1]
			uids = append(uids, serverOnly.UID)
			slices.Sort(uids)
			in, err := fx.fs.e.store.MessagesByUID(ctx, fx.fs.st.ID, uids)
			if err != nil || len(in) != 5 {
				t.Fatalf("MessagesByUID: %d rows, %v", len(in), err)
			}
			// The input rows come back as given (with size and
			// Message-ID), the rest of x's bucket as PairsInBuckets reads it.
			rows := append(slices.Clone(in), mapSlice(without(fx.inBucket(bx), x.ID), asPair)...)
			entries := append(fx.filesOf(others), fx.filesOf(fx.inBucket(bx), x.ID)...)
			return ldCase{listing: l, in: in, want: ldWant{found: true, rows: rows, entries: append(entries, file)}}
		}},
		{"server-changed rows, listing unchanged", 200, func(t *testing.T, fx *ldFixture) ldCase {
			in := []state.Message{fx.pairs[10], fx.pairs[20], fx.pairs[len(fx.pairs)-2]}
			return ldCase{listing: fx.listing, in: in, want: ldWant{
				found: true, rows: in, entries: fx.filesOf(in[:2]),
			}}
		}},
		{"flags changed on most files of a large folder", 2000, func(t *testing.T, fx *ldFixture) ldCase {
			l := slices.Clone(fx.listing)
			for i, p := range fx.pairs[:1500] {
				if p.UID == 0 {
					continue
				}
				l[i] = ldEntry(t, fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,T", p.Key, p.UID, md5))
			}
			return ldCase{listing: l}
		}},
		{"DigestBuckets/4 buckets differ", 2000, func(t *testing.T, fx *ldFixture) ldCase {
			return fx.changeBuckets(t, state.DigestBuckets/4)
		}},
		{"DigestBuckets/4+1 buckets differ", 2000, func(t *testing.T, fx *ldFixture) ldCase {
			c := fx.changeBuckets(t, state.DigestBuckets/4+1)
			c.want = ldWant{}
			return c
		}},
		{"the same key in new/ and cur/", 200, func(t *testing.T, fx *ldFixture) ldCase {
			i := fx.pick(t, 0)
			p := fx.pairs[i]
			dup := fmt.Sprintf("new/%s,U=%d,FMD5=%s", p.Key, p.UID, md5)
			return ldCase{
				listing: append(slices.Clone(fx.listing), ldEntry(t, dup)),
				want:    ldWant{found: true, rows: []state.Message{asPair(p)}, entries: []string{fx.files[p.ID], dup}},
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newLDFixture(t, tc.pairs)
			if n := len(fx.keyed()); n != tc.pairs {
				t.Fatalf("fixture has %d keyed pairs, want %d", n, tc.pairs)
			}
			c := tc.setup(t, fx)
			in := slices.Clone(c.in)
			rows, entries, pairs, found, err := fx.fs.localDiff(context.Background(), &localChanges{entries: c.listing}, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.want.found {
				t.Fatalf("found = %v, want %v (%d rows, %d entries)", found, c.want.found, len(rows), len(entries))
			}
			if !found {
				if len(rows) != 0 || len(entries) != 0 {
					t.Errorf("not found, yet %d rows and %d entries", len(rows), len(entries))
				}
				return
			}
			if pairs != tc.pairs {
				t.Errorf("pairs = %d, want %d", pairs, tc.pairs)
			}
			if len(rows) < len(in) || !slices.Equal(rows[:len(in)], in) {
				t.Errorf("the rows passed in are not kept first, as given:\n got %v\nwant %v", rows[:min(len(in), len(rows))], in)
			}
			checkRows(t, rows, c.want.rows)
			checkEntries(t, entries, c.want.entries)
		})
	}
}

// changeBuckets changes the flags of one pair in each of n buckets.
func (fx *ldFixture) changeBuckets(t *testing.T, n int) ldCase {
	t.Helper()
	md5 := fx.fs.md5
	l := slices.Clone(fx.listing)
	done := make(map[int]bool)
	var rows []state.Message
	var entries []string
	for i, p := range fx.pairs {
		if len(done) == n {
			break
		}
		b := state.Bucket(p.Key)
		if p.Key == "" || p.UID == 0 || done[b] {
			continue
		}
		done[b] = true
		file := fmt.Sprintf("cur/%s,U=%d,FMD5=%s:2,T", p.Key, p.UID, md5)
		l[i] = ldEntry(t, file)
		bp := fx.inBucket(b)
		rows = append(rows, mapSlice(bp, asPair)...)
		entries = append(append(entries, fx.filesOf(bp, p.ID)...), file)
	}
	if len(done) != n {
		t.Fatalf("only %d buckets hold pairs, want %d", len(done), n)
	}
	return ldCase{listing: l, want: ldWant{found: true, rows: rows, entries: entries}}
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, 0, len(s))
	for _, v := range s {
		out = append(out, f(v))
	}
	return out
}

func checkRows(t *testing.T, got, want []state.Message) {
	t.Helper()
	byID := func(a, b state.Message) int { return int(a.ID - b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if !slices.Equal(got, want) {
		t.Errorf("rows:\n got %d: %v\nwant %d: %v", len(got), got, len(want), want)
	}
}

func checkEntries(t *testing.T, got []maildir.Entry, want []string) {
	t.Helper()
	files := make([]string, 0, len(got))
	for _, e := range got {
		files = append(files, string(e.Sub)+"/"+e.File)
	}
	slices.Sort(files)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("entries:\n got %d: %q\nwant %d: %q", len(files), files, len(want), want)
	}
}
