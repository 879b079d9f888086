package state

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// dgPair is one (key, flags) pair as a Digest sums it up.
type dgPair struct{ key, flags string }

// dgOf sums up pairs in the given order.
func dgOf(pairs []dgPair) *Digest {
	d := new(Digest)
	for _, p := range pairs {
		d.Add(p.key, p.flags)
	}
	return d
}

// dgBuckets is the ascending, deduplicated list of the keys' buckets.
func dgBuckets(keys ...string) []int {
	var out []int
	for _, k := range keys {
		out = append(out, Bucket(k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// dgBase is a set of pairs the table cases below change.
func dgBase() []dgPair {
	var ps []dgPair
	for i := 0; i < 200; i++ {
		ps = append(ps, dgPair{fmt.Sprintf("%d.M%dP%d.host,U=%d", 1700000000+i, i, 4000+i, i+1), []string{"", "S", "FS", "RS", "DFRST"}[i%5]})
	}
	return ps
}

// dgSameBucketSplit finds a key k with Bucket(k) == Bucket(k+"x"): the
// pairs (k, "x"+f) and (k+"x", f) then fall in one bucket with the same
// count, and only the hash of the pair tells them apart.
func dgSameBucketSplit(t *testing.T) string {
	t.Helper()
	for i := 0; i < 1_000_000; i++ {
		k := fmt.Sprint("split", i)
		if Bucket(k) == Bucket(k+"x") {
			return k
		}
	}
	t.Fatal("no key shares its bucket with key+\"x\"")
	return ""
}

func TestDigestDiffers(t *testing.T) {
	base := dgBase()
	split := dgSameBucketSplit(t)
	cases := []struct {
		name string
		a, b func() *Digest
		want []int // exactly the buckets that differ
		// wantLen is b's Len, when checked.
		wantLen int
	}{{
		name: "same pairs, reversed order",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			slices.Reverse(r)
			return dgOf(r)
		},
		wantLen: len(base),
	}, {
		name: "same pairs, shuffled",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
			return dgOf(r)
		},
		wantLen: len(base),
	}, {
		name:    "empty digests",
		a:       func() *Digest { return new(Digest) },
		b:       func() *Digest { return new(Digest) },
		wantLen: 0,
	}, {
		name: "flag change",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			r[17].flags = "T" // was "FS"
			return dgOf(r)
		},
		want:    dgBuckets(base[17].key),
		wantLen: len(base),
	}, {
		name: "flag removed",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			r[1].flags = "" // was "S"
			return dgOf(r)
		},
		want:    dgBuckets(base[1].key),
		wantLen: len(base),
	}, {
		name: "two flag changes",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			r[3].flags = "S"
			r[150].flags = "T"
			return dgOf(r)
		},
		want:    dgBuckets(base[3].key, base[150].key),
		wantLen: len(base),
	}, {
		name: "pair added",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			return dgOf(append(slices.Clone(base), dgPair{"new-file", "S"}))
		},
		want:    dgBuckets("new-file"),
		wantLen: len(base) + 1,
	}, {
		name: "same pair added twice",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			return dgOf(append(slices.Clone(base), base[5]))
		},
		want:    dgBuckets(base[5].key),
		wantLen: len(base) + 1,
	}, {
		name: "pair removed",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			return dgOf(slices.Delete(slices.Clone(base), 42, 43))
		},
		want:    dgBuckets(base[42].key),
		wantLen: len(base) - 1,
	}, {
		name: "key changed, flags kept",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			r[99].key = "renamed-file"
			return dgOf(r)
		},
		want:    dgBuckets(base[99].key, "renamed-file"),
		wantLen: len(base),
	}, {
		name: "two keys swapped their flags",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			r := slices.Clone(base)
			r[10].flags, r[11].flags = r[11].flags, r[10].flags
			return dgOf(r)
		},
		want:    dgBuckets(base[10].key, base[11].key),
		wantLen: len(base),
	}, {
		name: "Add then remove restores",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			d := dgOf(base)
			d.Add("transient", "FS")
			d.Add(base[0].key, "T")
			d.remove("transient", "FS")
			d.remove(base[0].key, "T")
			return d
		},
		wantLen: len(base),
	}, {
		name: "remove then Add restores (wrapping below zero)",
		a:    func() *Digest { return new(Digest) },
		b: func() *Digest {
			d := new(Digest)
			d.remove("never-added", "S")
			d.Add("never-added", "S")
			return d
		},
		wantLen: 0,
	}, {
		name: "remove and re-Add with new flags is a flag change",
		a:    func() *Digest { return dgOf(base) },
		b: func() *Digest {
			d := dgOf(base)
			d.remove(base[7].key, base[7].flags)
			d.Add(base[7].key, base[7].flags+"Z")
			return d
		},
		want:    dgBuckets(base[7].key),
		wantLen: len(base),
	}, {
		// Sums that agree (as a 2⁻⁶⁴ collision would make them) with
		// counts that don't still differ.
		name: "equal sums, different counts",
		a:    func() *Digest { return new(Digest) },
		b: func() *Digest {
			d := new(Digest)
			d.counts[5] = 1
			d.counts[DigestBuckets-1] = 2
			return d
		},
		want:    []int{5, DigestBuckets - 1},
		wantLen: 3,
	}, {
		name:    `"ab"+"c" vs "a"+"bc"`,
		a:       func() *Digest { return dgOf([]dgPair{{"ab", "c"}}) },
		b:       func() *Digest { return dgOf([]dgPair{{"a", "bc"}}) },
		want:    dgBuckets("ab", "a"),
		wantLen: 1,
	}, {
		// The same split where both keys share a bucket: counts agree,
		// so only the sum can tell them apart.
		name:    "key/flags split within one bucket",
		a:       func() *Digest { return dgOf([]dgPair{{split, "xS"}}) },
		b:       func() *Digest { return dgOf([]dgPair{{split + "x", "S"}}) },
		want:    dgBuckets(split),
		wantLen: 1,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := c.a(), c.b()
			if got := a.Differs(b); !slices.Equal(got, c.want) {
				t.Errorf("a.Differs(b) = %v, want %v", got, c.want)
			}
			if got := b.Differs(a); !slices.Equal(got, c.want) {
				t.Errorf("b.Differs(a) = %v, want %v", got, c.want)
			}
			if got := b.Len(); got != c.wantLen {
				t.Errorf("Len = %d, want %d", got, c.wantLen)
			}
		})
	}
}

func TestDigestLen(t *testing.T) {
	var d Digest
	if d.Len() != 0 {
		t.Fatalf("zero Digest Len = %d", d.Len())
	}
	for i := 1; i <= 3000; i++ {
		d.Add(fmt.Sprint("k", i), "S")
		if i%1000 == 0 && d.Len() != i {
			t.Fatalf("after %d Adds, Len = %d", i, d.Len())
		}
	}
	d.Add("k1", "S") // the same pair again counts again
	if d.Len() != 3001 {
		t.Fatalf("Len = %d, want 3001", d.Len())
	}
	d.remove("k1", "S")
	d.remove("k2", "S")
	if d.Len() != 2999 {
		t.Fatalf("after two removes Len = %d, want 2999", d.Len())
	}
}

func TestBucketRange(t *testing.T) {
	seen := make(map[int]bool)
	for i := 0; i < 20000; i++ {
		k := fmt.Sprintf("%d.M%dP1.h,U=%d:2,S", 1700000000+i, i, i)
		b := Bucket(k)
		if b < 0 || b >= DigestBuckets {
			t.Fatalf("Bucket(%q) = %d, outside [0, %d)", k, b, DigestBuckets)
		}
		if b != Bucket(k) {
			t.Fatalf("Bucket(%q) is not stable", k)
		}
		seen[b] = true
	}
	// 20,000 keys over 1024 buckets leave one empty with a chance of about
	// 1024·e^-19.5: all are used unless the hash is badly skewed.
	if len(seen) != DigestBuckets {
		t.Errorf("20000 keys used %d of %d buckets", len(seen), DigestBuckets)
	}
	if b, _ := hashPair("some-key", "FS"); b != Bucket("some-key") {
		t.Errorf("hashPair puts the pair in bucket %d, Bucket says %d", b, Bucket("some-key"))
	}
}

func TestDigestMerge(t *testing.T) {
	base := dgBase()
	d := dgOf(base[:100])
	var delta Digest
	for _, p := range base[100:] {
		delta.Add(p.key, p.flags)
	}
	delta.remove(base[0].key, base[0].flags)
	d.merge(&delta)
	if got := d.Differs(dgOf(base[1:])); len(got) != 0 {
		t.Errorf("merged digest differs in buckets %v", got)
	}
}

// dgNoPanic runs unmarshalDigest, turning a panic into a test failure.
func dgNoPanic(t *testing.T, b []byte) (d *Digest, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("unmarshalDigest(%d bytes) panicked: %v", len(b), r)
		}
	}()
	return unmarshalDigest(b)
}

func TestDigestMarshalRoundTrip(t *testing.T) {
	const size = 1 + DigestBuckets*12
	d := dgOf(dgBase())
	d.remove("only-removed", "S") // a count and sum below zero survive too
	for i := 0; i < 5000; i++ {
		d.Add(fmt.Sprint("bulk", i), "RS")
	}
	b := d.marshal()
	if len(b) != size || b[0] != digestVersion {
		t.Fatalf("marshal: %d bytes, version %d; want %d, %d", len(b), b[0], size, digestVersion)
	}
	got, err := dgNoPanic(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *d {
		t.Errorf("round trip changed the digest (differs in %v)", got.Differs(d))
	}
	if !bytes.Equal(got.marshal(), b) {
		t.Error("re-marshalled bytes differ")
	}

	// The empty digest round-trips as well.
	e, err := dgNoPanic(t, new(Digest).marshal())
	if err != nil || *e != (Digest{}) {
		t.Errorf("empty digest round trip: %v", err)
	}

	// NULL decodes to the empty digest.
	n, err := dgNoPanic(t, nil)
	if err != nil || n == nil || *n != (Digest{}) || n.Len() != 0 {
		t.Errorf("unmarshalDigest(nil) = %v, %v; want the empty digest", n, err)
	}

	bad := map[string][]byte{
		"empty, not nil":   {},
		"version only":     {digestVersion},
		"one byte short":   b[:size-1],
		"one byte long":    append(slices.Clone(b), 0),
		"twice the length": append(slices.Clone(b), b...),
		"version 0":        append([]byte{0}, b[1:]...),
		"version 2":        append([]byte{digestVersion + 1}, b[1:]...),
		"version 255":      append([]byte{0xff}, b[1:]...),
		"no version byte":  b[1:],
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			got, err := dgNoPanic(t, in)
			if err == nil {
				t.Fatalf("no error for %d bytes (version byte %v)", len(in), in[:min(1, len(in))])
			}
			if got != nil {
				t.Errorf("returned a digest along with the error %v", err)
			}
		})
	}
}

func FuzzUnmarshalDigest(f *testing.F) {
	valid := dgOf(dgBase()).marshal()
	f.Add(valid)
	f.Add(new(Digest).marshal())
	f.Add([]byte{})
	f.Add([]byte{digestVersion})
	f.Add(valid[:len(valid)-1])
	f.Add(append([]byte{2}, valid[1:]...))
	f.Add(append(slices.Clone(valid), 7))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := unmarshalDigest(b)
		switch {
		case b == nil:
			if err != nil || d == nil || *d != (Digest{}) {
				t.Fatalf("nil: %v, %v; want the empty digest", d, err)
			}
		case err != nil:
			if d != nil {
				t.Fatalf("digest returned with error %v", err)
			}
		default:
			if d == nil {
				t.Fatal("nil digest without an error")
			}
			if again := d.marshal(); !bytes.Equal(again, b) {
				t.Fatalf("decoded %d bytes, re-marshalled to %d different bytes", len(b), len(again))
			}
		}
	})
}

// dgModel is what a folder's rows should be, to check the stored digest
// against.
type dgModel struct {
	folder int64
	rows   map[int64]Message
}

func newDgModel(folder int64) *dgModel {
	return &dgModel{folder: folder, rows: make(map[int64]Message)}
}

func (m *dgModel) clone() *dgModel {
	c := newDgModel(m.folder)
	for id, r := range m.rows {
		c.rows[id] = r
	}
	return c
}

// digest is Add over the rows with a key.
func (m *dgModel) digest() *Digest {
	d := new(Digest)
	for _, r := range m.rows {
		if r.Key != "" {
			d.Add(r.Key, r.Flags)
		}
	}
	return d
}

func (m *dgModel) insert(tx *Tx, r Message) (int64, error) {
	id, err := tx.Insert(r)
	if err == nil {
		r.ID = id
		m.rows[id] = r
	}
	return id, err
}

func (m *dgModel) update(tx *Tx, r Message) error {
	err := tx.Update(r)
	if err == nil {
		old := m.rows[r.ID]
		r.Size, r.MessageID = old.Size, old.MessageID
		m.rows[r.ID] = r
	}
	return err
}

func (m *dgModel) updateIdentity(tx *Tx, r Message) error {
	err := tx.UpdateIdentity(r)
	if err == nil {
		m.rows[r.ID] = r
	}
	return err
}

func (m *dgModel) delete(tx *Tx, id int64) error {
	err := tx.Delete(id)
	if err == nil {
		delete(m.rows, id)
	}
	return err
}

func (m *dgModel) deleteAll(tx *Tx) error {
	err := tx.DeleteAllMessages()
	if err == nil {
		clear(m.rows)
	}
	return err
}

// dgCheck checks that the folder's rows are the model's, that VerifyDigest
// finds nothing wrong, and that the stored digest is the model's pairs summed.
func dgCheck(t *testing.T, s *Store, m *dgModel, when string) {
	t.Helper()
	ctx := context.Background()
	got := stMessages(t, s, m.folder)
	if len(got) != len(m.rows) {
		t.Fatalf("%s: folder %d has %d rows, want %d", when, m.folder, len(got), len(m.rows))
	}
	for _, r := range got {
		if w, ok := m.rows[r.ID]; !ok || w != r {
			t.Fatalf("%s: row %+v, want %+v", when, r, w)
		}
	}
	if err := s.VerifyDigest(ctx, m.folder); err != nil {
		t.Fatalf("%s: VerifyDigest: %v", when, err)
	}
	d, err := s.Digest(ctx, m.folder)
	if err != nil {
		t.Fatalf("%s: Digest: %v", when, err)
	}
	want := m.digest()
	if diff := d.Differs(want); len(diff) != 0 {
		t.Fatalf("%s: stored digest differs from the rows' in buckets %v", when, diff)
	}
	if d.Len() != want.Len() {
		t.Fatalf("%s: stored digest Len = %d, want %d", when, d.Len(), want.Len())
	}
}

// dgStoredBytes is the folder's digest column as stored.
func dgStoredBytes(t *testing.T, s *Store, folder int64) []byte {
	t.Helper()
	var b []byte
	if err := s.db.QueryRow("SELECT digest FROM folders WHERE id = ?", folder).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDigestNewFolderIsEmpty(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	if b := dgStoredBytes(t, s, f.ID); b != nil {
		t.Errorf("new folder's digest column is %d bytes, want NULL", len(b))
	}
	d, err := s.Digest(ctx, f.ID)
	if err != nil || d.Len() != 0 || *d != (Digest{}) {
		t.Fatalf("Digest of a new folder: Len %v, %v", d, err)
	}
	if err := s.VerifyDigest(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	// A transaction that changes no pair leaves it alone.
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		return tx.UpdateFolder(Folder{ID: f.ID, LocalName: f.LocalName, UIDNext: 5})
	}); err != nil {
		t.Fatal(err)
	}
	if b := dgStoredBytes(t, s, f.ID); b != nil {
		t.Errorf("after a transaction without pair changes the digest is %d bytes, want NULL", len(b))
	}
	if _, err := s.Digest(ctx, 12345); err == nil {
		t.Error("Digest of an unknown folder: no error")
	}
}

// TestTxMaintainsDigest runs sequences of transactions against a store and,
// after each, checks the stored digest and buckets against the rows.
func TestTxMaintainsDigest(t *testing.T) {
	// Each step is one transaction; ids[i] is the id of the i-th row
	// inserted by the scenario (setup rows first).
	type step func(tx *Tx, m *dgModel, ids *[]int64) error
	ins := func(rs ...Message) step {
		return func(tx *Tx, m *dgModel, ids *[]int64) error {
			for _, r := range rs {
				id, err := m.insert(tx, r)
				if err != nil {
					return err
				}
				*ids = append(*ids, id)
			}
			return nil
		}
	}
	// upd updates the i-th inserted row.
	upd := func(i int, r Message) step {
		return func(tx *Tx, m *dgModel, ids *[]int64) error {
			r.ID = (*ids)[i]
			return m.update(tx, r)
		}
	}
	updID := func(i int, r Message) step {
		return func(tx *Tx, m *dgModel, ids *[]int64) error {
			r.ID = (*ids)[i]
			return m.updateIdentity(tx, r)
		}
	}
	del := func(is ...int) step {
		return func(tx *Tx, m *dgModel, ids *[]int64) error {
			for _, i := range is {
				if err := m.delete(tx, (*ids)[i]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	delAll := func(tx *Tx, m *dgModel, ids *[]int64) error { return m.deleteAll(tx) }
	// one runs several steps in one transaction.
	one := func(steps ...step) step {
		return func(tx *Tx, m *dgModel, ids *[]int64) error {
			for _, s := range steps {
				if err := s(tx, m, ids); err != nil {
					return err
				}
			}
			return nil
		}
	}
	setup := ins(
		Message{UID: 1, Key: "k1", Flags: "S", Size: 10, MessageID: "<1@x>"}, // 0
		Message{UID: 2, Key: "k2", Flags: "FS"},                              // 1
		Message{UID: 3, Key: "", Flags: "S"},                                 // 2: no local copy
		Message{UID: 0, Key: "k4", Flags: ""},                                // 3: no server copy
		Message{UID: 5, Key: "k5", Flags: "RS"},                              // 4
	)

	cases := []struct {
		name  string
		steps []step
	}{
		{"inserts only", nil},
		{"more inserts in later transactions", []step{
			ins(Message{UID: 6, Key: "k6", Flags: "S"}),
			ins(Message{UID: 7, Key: "k7"}, Message{UID: 8, Key: ""}),
		}},
		{"flag change", []step{upd(0, Message{UID: 1, Key: "k1", Flags: "FS"})}},
		{"flags cleared", []step{upd(1, Message{UID: 2, Key: "k2", Flags: ""})}},
		{"key change", []step{upd(0, Message{UID: 1, Key: "k1-renamed", Flags: "S"})}},
		{"key and flags change", []step{upd(4, Message{UID: 5, Key: "k5b", Flags: "T"})}},
		{"local copy gone (key '')", []step{upd(1, Message{UID: 2, Key: "", Flags: "FS"})}},
		{"local copy back (key from '')", []step{upd(2, Message{UID: 3, Key: "k3", Flags: "S"})}},
		{"uid-only change", []step{upd(0, Message{UID: 100, Key: "k1", Flags: "S"})}},
		{"server copy gone (uid 0)", []step{upd(1, Message{UID: 0, Key: "k2", Flags: "FS"})}},
		{"several updates of one row in one transaction", []step{one(
			upd(0, Message{UID: 1, Key: "k1", Flags: "FS"}),
			upd(0, Message{UID: 1, Key: "k1x", Flags: "FRS"}),
			upd(0, Message{UID: 9, Key: "", Flags: "FRS"}),
			upd(0, Message{UID: 9, Key: "k1y", Flags: ""}),
		)}},
		{"keys swapped through ''", []step{one(
			upd(0, Message{UID: 1, Key: "", Flags: "S"}),
			upd(1, Message{UID: 2, Key: "k1", Flags: "FS"}),
			upd(0, Message{UID: 1, Key: "k2", Flags: "S"}),
		)}},
		{"UpdateIdentity", []step{updID(0, Message{UID: 11, Key: "k1-new", Flags: "DS", Size: 99, MessageID: "<new@x>"})}},
		{"UpdateIdentity to key ''", []step{updID(4, Message{UID: 5, Key: "", Flags: "RS", Size: 1})}},
		{"UpdateIdentity from key ''", []step{updID(2, Message{UID: 3, Key: "k3", Flags: "", Size: 1})}},
		{"uidvalidity change: park then UpdateIdentity", []step{one(
			upd(0, Message{UID: 0, Key: "k1", Flags: "S"}),
			upd(1, Message{UID: 0, Key: "k2", Flags: "FS"}),
			updID(0, Message{UID: 2, Key: "k1", Flags: "S", Size: 10}),
			updID(1, Message{UID: 1, Key: "k2", Flags: "FS", Size: 20}),
			del(4),
		)}},
		{"delete", []step{del(0)}},
		{"delete a row without a local copy", []step{del(2)}},
		{"delete everything row by row", []step{del(0, 1, 2, 3, 4)}},
		{"insert, update and delete in one transaction", []step{one(
			ins(Message{UID: 20, Key: "k20", Flags: "S"}), // 5
			upd(5, Message{UID: 20, Key: "k20", Flags: "FS"}),
			upd(0, Message{UID: 1, Key: "k1", Flags: ""}),
			del(5, 0),
		)}},
		{"update then delete", []step{
			upd(3, Message{UID: 0, Key: "k4", Flags: "T"}),
			del(3),
		}},
		{"DeleteAllMessages alone", []step{delAll}},
		{"DeleteAllMessages then inserts in the same transaction", []step{one(
			delAll,
			ins(Message{UID: 1, Key: "n1", Flags: "S"}, Message{UID: 2, Key: "k2", Flags: ""}, Message{UID: 3, Key: ""}),
		)}},
		{"changes, DeleteAllMessages, inserts, changes in one transaction", []step{one(
			upd(0, Message{UID: 1, Key: "k1", Flags: "FS"}),
			del(1),
			ins(Message{UID: 30, Key: "k30"}), // 5
			delAll,
			ins(Message{UID: 1, Key: "k1", Flags: "S"}, Message{UID: 2, Key: "n2", Flags: "R"}), // 6, 7
			upd(7, Message{UID: 2, Key: "n2", Flags: "RS"}),
			ins(Message{UID: 3, Key: "n3"}), // 8
			del(8),
		)}},
		{"DeleteAllMessages then inserts in later transactions", []step{
			delAll,
			ins(Message{UID: 1, Key: "k1", Flags: "S"}),
			ins(Message{UID: 2, Key: "k2", Flags: "S"}),
			upd(5, Message{UID: 1, Key: "k1", Flags: "FS"}),
		}},
		{"DeleteAllMessages twice", []step{
			one(delAll, ins(Message{UID: 1, Key: "a"}), delAll, ins(Message{UID: 2, Key: "b", Flags: "S"})),
			delAll,
			ins(Message{UID: 3, Key: "c"}),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := stOpen(t)
			f, g := stFolder(t, s, "INBOX"), stFolder(t, s, "Other")
			m, other := newDgModel(f.ID), newDgModel(g.ID)
			var ids, otherIDs []int64
			// The other folder holds some of the same keys, with other
			// flags, and changes between the steps.
			if err := stTx(t, s, g.ID, func(tx *Tx) error {
				return ins(Message{UID: 1, Key: "k1", Flags: "T"}, Message{UID: 2, Key: "k2"}, Message{UID: 9, Key: "o9", Flags: "S"})(tx, other, &otherIDs)
			}); err != nil {
				t.Fatal(err)
			}
			if err := stTx(t, s, f.ID, func(tx *Tx) error { return setup(tx, m, &ids) }); err != nil {
				t.Fatal(err)
			}
			dgCheck(t, s, m, "after setup")
			dgCheck(t, s, other, "other folder after setup")
			for i, st := range c.steps {
				if err := stTx(t, s, f.ID, func(tx *Tx) error { return st(tx, m, &ids) }); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				dgCheck(t, s, m, fmt.Sprint("after step ", i))
				dgCheck(t, s, other, fmt.Sprint("other folder after step ", i))
				if err := stTx(t, s, g.ID, func(tx *Tx) error {
					return ins(Message{UID: uint32(100 + i), Key: fmt.Sprint("o", 100+i), Flags: "S"})(tx, other, &otherIDs)
				}); err != nil {
					t.Fatal(err)
				}
				dgCheck(t, s, m, fmt.Sprint("after the other folder's step ", i))
			}
		})
	}
}

// TestTxDigestRandom applies random changes in random batches, some rolled
// back, and checks the digest after each.
func TestTxDigestRandom(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f, g := stFolder(t, s, "INBOX"), stFolder(t, s, "Other")
	models := map[int64]*dgModel{f.ID: newDgModel(f.ID), g.ID: newDgModel(g.ID)}
	rng := rand.New(rand.NewPCG(7, 11))
	flags := []string{"", "S", "FS", "RS", "DFRST", "T"}
	next := 0
	newKey := func() string {
		next++
		if rng.IntN(6) == 0 {
			return ""
		}
		return fmt.Sprint("key-", next)
	}
	newUID := func() uint32 {
		next++
		if rng.IntN(6) == 0 {
			return 0
		}
		return uint32(next)
	}
	pick := func(m *dgModel) (Message, bool) {
		if len(m.rows) == 0 {
			return Message{}, false
		}
		ids := make([]int64, 0, len(m.rows))
		for id := range m.rows {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return m.rows[ids[rng.IntN(len(ids))]], true
	}
	for round := 0; round < 60; round++ {
		folder := f.ID
		if rng.IntN(3) == 0 {
			folder = g.ID
		}
		committed := models[folder]
		m := committed.clone()
		before := dgStoredBytes(t, s, folder)
		tx, err := s.Begin(ctx, folder)
		if err != nil {
			t.Fatal(err)
		}
		for op := rng.IntN(40); op >= 0; op-- {
			r, ok := pick(m)
			switch k := rng.IntN(20); {
			case k < 8 || !ok:
				_, err = m.insert(tx, Message{UID: newUID(), Key: newKey(), Flags: flags[rng.IntN(len(flags))], Size: int64(k)})
			case k < 11:
				r.Flags = flags[rng.IntN(len(flags))]
				err = m.update(tx, r)
			case k < 13:
				r.Key = newKey()
				err = m.update(tx, r)
			case k < 14:
				r.UID = newUID()
				err = m.update(tx, r)
			case k < 16:
				r.UID, r.Key, r.Flags, r.Size, r.MessageID = newUID(), newKey(), flags[rng.IntN(len(flags))], 7, "<r@x>"
				err = m.updateIdentity(tx, r)
			case k < 19:
				err = m.delete(tx, r.ID)
			default:
				if rng.IntN(4) == 0 {
					err = m.deleteAll(tx)
				} else {
					err = m.delete(tx, r.ID)
				}
			}
			if err != nil {
				tx.Rollback()
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if rng.IntN(5) == 0 {
			tx.Rollback()
			if after := dgStoredBytes(t, s, folder); !bytes.Equal(after, before) {
				t.Fatalf("round %d: rollback changed the stored digest", round)
			}
		} else {
			if err := tx.Commit(); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			models[folder] = m
		}
		for _, mm := range models {
			dgCheck(t, s, mm, fmt.Sprintf("round %d, folder %d", round, mm.folder))
		}
	}
	if models[f.ID].digest().Len() == 0 || models[g.ID].digest().Len() == 0 {
		t.Fatal("the random sequence left a folder empty: too weak a test")
	}
}

func TestTxRollbackKeepsDigest(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	m := newDgModel(f.ID)
	var id1, id2 int64
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		var err error
		if id1, err = m.insert(tx, Message{UID: 1, Key: "k1", Flags: "S"}); err != nil {
			return err
		}
		id2, err = m.insert(tx, Message{UID: 2, Key: "k2", Flags: ""})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := dgStoredBytes(t, s, f.ID)
	for name, fn := range map[string]func(tx *Tx) error{
		"insert": func(tx *Tx) error {
			_, err := tx.Insert(Message{UID: 3, Key: "k3", Flags: "S"})
			return err
		},
		"update":         func(tx *Tx) error { return tx.Update(Message{ID: id1, UID: 1, Key: "k1", Flags: "FS"}) },
		"updateIdentity": func(tx *Tx) error { return tx.UpdateIdentity(Message{ID: id2, UID: 2, Key: "", Flags: ""}) },
		"delete":         func(tx *Tx) error { return tx.Delete(id1) },
		"deleteAll": func(tx *Tx) error {
			if err := tx.DeleteAllMessages(); err != nil {
				return err
			}
			_, err := tx.Insert(Message{UID: 1, Key: "fresh"})
			return err
		},
	} {
		tx, err := s.Begin(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			t.Fatalf("%s: %v", name, err)
		}
		tx.Rollback()
		if after := dgStoredBytes(t, s, f.ID); !bytes.Equal(after, before) {
			t.Errorf("%s rolled back: stored digest changed", name)
		}
		dgCheck(t, s, m, name+" rolled back")
	}
}

// A transaction for one folder can't change another's digest, even when
// asked to touch the other folder's rows.
func TestDigestFoldersDontMix(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f, g := stFolder(t, s, "INBOX"), stFolder(t, s, "Other")
	mf, mg := newDgModel(f.ID), newDgModel(g.ID)
	var fIDs []int64
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		for i := 0; i < 50; i++ {
			id, err := mf.insert(tx, Message{UID: uint32(i + 1), Key: fmt.Sprint("k", i), Flags: "S"})
			if err != nil {
				return err
			}
			fIDs = append(fIDs, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := stTx(t, s, g.ID, func(tx *Tx) error {
		// The same keys, k0 and k1 with other flags.
		for i := 0; i < 50; i++ {
			fl := "S"
			if i < 2 {
				fl = "FS"
			}
			if _, err := mg.insert(tx, Message{UID: uint32(i + 1), Key: fmt.Sprint("k", i), Flags: fl}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dgCheck(t, s, mf, "INBOX")
	dgCheck(t, s, mg, "Other")
	df, err := s.Digest(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	dg, err := s.Digest(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := df.Differs(dg), dgBuckets("k0", "k1"); !slices.Equal(got, want) {
		t.Errorf("the folders' digests differ in %v, want %v (k0, k1)", got, want)
	}

	// Other's transaction deleting INBOX's rows by id touches neither
	// folder's rows nor digests.
	if err := stTx(t, s, g.ID, func(tx *Tx) error { return tx.Delete(fIDs[0]) }); err != nil {
		t.Fatal(err)
	}
	dgCheck(t, s, mf, "INBOX after Other's Delete of its row")
	dgCheck(t, s, mg, "Other after its Delete of INBOX's row")

	// Other's DeleteAllMessages empties Other only.
	if err := stTx(t, s, g.ID, func(tx *Tx) error { return mg.deleteAll(tx) }); err != nil {
		t.Fatal(err)
	}
	dgCheck(t, s, mf, "INBOX after Other's DeleteAllMessages")
	dgCheck(t, s, mg, "Other after its DeleteAllMessages")
	if d, err := s.Digest(ctx, g.ID); err != nil || d.Len() != 0 {
		t.Errorf("Other's digest after DeleteAllMessages: %v", err)
	}
}

// TestUpdateOfMissingRowKeepsDigest: Update and UpdateIdentity of a row that
// isn't the transaction's folder's (another folder's, never recorded,
// deleted earlier in the same transaction) change no row, so they must not
// change the digest either.
func TestUpdateOfMissingRowKeepsDigest(t *testing.T) {
	cases := []struct {
		name string
		fn   func(tx *Tx, mf *dgModel, fID, gID int64) error
	}{
		{"Update of another folder's row", func(tx *Tx, mf *dgModel, fID, gID int64) error {
			return tx.Update(Message{ID: gID, UID: 7, Key: "hijack", Flags: "S"})
		}},
		{"UpdateIdentity of another folder's row", func(tx *Tx, mf *dgModel, fID, gID int64) error {
			return tx.UpdateIdentity(Message{ID: gID, UID: 7, Key: "hijack", Flags: "S"})
		}},
		{"Update of an unknown id", func(tx *Tx, mf *dgModel, fID, gID int64) error {
			return tx.Update(Message{ID: 98765, UID: 7, Key: "ghost", Flags: "S"})
		}},
		{"Update after Delete in one transaction", func(tx *Tx, mf *dgModel, fID, gID int64) error {
			if err := mf.delete(tx, fID); err != nil {
				return err
			}
			return tx.Update(Message{ID: fID, UID: 1, Key: "k1", Flags: "FS"})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := stOpen(t)
			f, g := stFolder(t, s, "INBOX"), stFolder(t, s, "Other")
			mf, mg := newDgModel(f.ID), newDgModel(g.ID)
			var fID, gID int64
			if err := stTx(t, s, f.ID, func(tx *Tx) error {
				var err error
				fID, err = mf.insert(tx, Message{UID: 1, Key: "k1", Flags: "S"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := stTx(t, s, g.ID, func(tx *Tx) error {
				var err error
				gID, err = mg.insert(tx, Message{UID: 1, Key: "g1", Flags: "S"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := stTx(t, s, f.ID, func(tx *Tx) error { return c.fn(tx, mf, fID, gID) }); err != nil {
				t.Fatal(err)
			}
			dgCheck(t, s, mf, c.name)
			dgCheck(t, s, mg, c.name+" (other folder)")
		})
	}
}

// TestVerifyDigestFindsHandEdits: a row changed behind the Tx's back shows.
func TestVerifyDigestFindsHandEdits(t *testing.T) {
	ctx := context.Background()
	edits := []struct {
		name string
		sql  string
	}{
		{"flags changed", "UPDATE messages SET flags = 'FS' WHERE key = 'k1'"},
		{"flags of a second row changed", "UPDATE messages SET flags = '' WHERE key = 'k2'"},
		{"wrong bucket", "UPDATE messages SET bucket = (bucket + 1) % 1024 WHERE key = 'k1'"},
		{"bucket -1 for a row with a key", "UPDATE messages SET bucket = -1 WHERE key = 'k1'"},
		{"bucket for a row without a key", "UPDATE messages SET bucket = 3 WHERE key = ''"},
		{"key changed, bucket kept", "UPDATE messages SET key = 'k1-edited' WHERE key = 'k1'"},
		{"row deleted", "DELETE FROM messages WHERE key = 'k2'"},
		{"row inserted with its right bucket", fmt.Sprintf("INSERT INTO messages(folder_id, uid, key, flags, bucket) VALUES(1, 50, 'k50', 'S', %d)", Bucket("k50"))},
		{"key set to '' with bucket -1", "UPDATE messages SET key = '', bucket = -1 WHERE key = 'k1'"},
		{"digest blob truncated", "UPDATE folders SET digest = x'01' WHERE id = 1"},
		{"digest cleared", "UPDATE folders SET digest = NULL WHERE id = 1"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			s := stOpen(t)
			f := stFolder(t, s, "INBOX")
			g := stFolder(t, s, "Other")
			if f.ID != 1 {
				t.Fatalf("folder id %d, the edits assume 1", f.ID)
			}
			for _, folder := range []int64{f.ID, g.ID} {
				if err := stTx(t, s, folder, func(tx *Tx) error {
					for _, r := range []Message{{UID: 1, Key: "k1", Flags: "S"}, {UID: 2, Key: "k2", Flags: "RS"}, {UID: 3, Key: "", Flags: "S"}} {
						if _, err := tx.Insert(r); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.VerifyDigest(ctx, f.ID); err != nil {
				t.Fatalf("before the edit: %v", err)
			}
			// Edit INBOX's rows only; the statement's WHERE on key alone
			// would hit Other's too, so restrict it.
			q := e.sql
			if strings.HasPrefix(q, "UPDATE messages") || strings.HasPrefix(q, "DELETE FROM messages") {
				q += " AND folder_id = 1"
			}
			if _, err := s.db.Exec(q); err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyDigest(ctx, f.ID); err == nil {
				t.Errorf("VerifyDigest found nothing after %q", q)
			}
			if err := s.VerifyDigest(ctx, g.ID); err != nil {
				t.Errorf("VerifyDigest of the untouched folder: %v", err)
			}
		})
	}
}

// A malformed stored digest fails the next commit that changes pairs, and
// that commit's changes are not kept.
func TestCommitWithMalformedDigest(t *testing.T) {
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		_, err := tx.Insert(Message{UID: 1, Key: "k1", Flags: "S"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("UPDATE folders SET digest = x'0102' WHERE id = ?", f.ID); err != nil {
		t.Fatal(err)
	}
	err := stTx(t, s, f.ID, func(tx *Tx) error {
		_, err := tx.Insert(Message{UID: 2, Key: "k2", Flags: "S"})
		return err
	})
	if err == nil {
		t.Fatal("commit over a malformed digest succeeded")
	}
	if ms := stMessages(t, s, f.ID); len(ms) != 1 {
		t.Errorf("the failed commit kept its rows: %+v", ms)
	}
	// DeleteAllMessages starts the digest afresh, so it recovers.
	m := newDgModel(f.ID)
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		if err := m.deleteAll(tx); err != nil {
			return err
		}
		_, err := m.insert(tx, Message{UID: 2, Key: "k2", Flags: "S"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dgCheck(t, s, m, "after DeleteAllMessages over a malformed digest")
}

func TestPairsInBuckets(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f, g := stFolder(t, s, "INBOX"), stFolder(t, s, "Other")
	want := make(map[int64]Message) // INBOX's rows with a key, by id
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		for i := 1; i <= 3000; i++ {
			m := Message{UID: uint32(i), Key: fmt.Sprintf("%d.M%d.host,U=%d", 1700000000+i, i, i), Flags: []string{"", "S", "FS"}[i%3], Size: 1000, MessageID: "<m@x>"}
			if i%10 == 0 {
				m.Key = "" // no local copy: in no bucket
			}
			id, err := tx.Insert(m)
			if err != nil {
				return err
			}
			if m.Key != "" {
				m.ID, m.Size, m.MessageID = id, 0, "" // PairsInBuckets reads pairs, as Pairs does
				want[id] = m
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Other holds the same keys (and some without a local copy).
	if err := stTx(t, s, g.ID, func(tx *Tx) error {
		for i := 1; i <= 3000; i += 3 {
			key := fmt.Sprintf("%d.M%d.host,U=%d", 1700000000+i, i, i)
			if i%7 == 0 {
				key = ""
			}
			if _, err := tx.Insert(Message{UID: uint32(i), Key: key, Flags: "T"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	check := func(name string, buckets []int) {
		t.Helper()
		in := make(map[int]bool)
		for _, b := range buckets {
			in[b] = true
		}
		got, err := s.PairsInBuckets(ctx, f.ID, buckets)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seen := make(map[int64]bool)
		for _, m := range got {
			if seen[m.ID] {
				t.Fatalf("%s: row %d returned twice", name, m.ID)
			}
			seen[m.ID] = true
			if w, ok := want[m.ID]; !ok || w != m {
				t.Fatalf("%s: returned %+v, want %+v (key '' or another folder's row?)", name, m, w)
			}
			if !in[Bucket(m.Key)] {
				t.Fatalf("%s: returned %q of bucket %d, not asked for", name, m.Key, Bucket(m.Key))
			}
		}
		n := 0
		for id, w := range want {
			if in[Bucket(w.Key)] {
				n++
				if !seen[id] {
					t.Fatalf("%s: left out %q (bucket %d)", name, w.Key, Bucket(w.Key))
				}
			}
		}
		if len(got) != n {
			t.Fatalf("%s: %d rows, want %d", name, len(got), n)
		}
		t.Logf("%s: %d buckets, %d rows", name, len(buckets), n)
	}

	var all, even, odd, scattered []int
	for b := 0; b < DigestBuckets; b++ {
		all = append(all, b)
		if b%2 == 0 {
			even = append(even, b)
		} else {
			odd = append(odd, b)
		}
		if b%7 == 3 || b%11 == 0 {
			scattered = append(scattered, b)
		}
	}
	if len(even) <= maxParams || len(all) <= 2*maxParams {
		t.Fatalf("bucket lists too short to cross the IN-list chunking (%d)", maxParams)
	}
	check("no buckets", nil)
	check("one bucket", []int{Bucket(want[slices.Min(slices.Collect(maps.Keys(want)))].Key)})
	check("scattered", scattered)
	check("even (two chunks)", even)
	check("odd (two chunks)", odd)
	descending := slices.Clone(even)
	slices.Reverse(descending)
	check("even, descending", descending)
	check("all (three chunks)", all)

	got, err := s.PairsInBuckets(ctx, f.ID, all)
	if err != nil || len(got) != len(want) {
		t.Fatalf("all buckets: %d rows, %v; want every row with a key (%d)", len(got), err, len(want))
	}
	// Other's own rows are found in Other's buckets, with Other's flags.
	og, err := s.PairsInBuckets(ctx, g.ID, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range og {
		if m.Key == "" || m.Flags != "T" {
			t.Fatalf("Other: %+v", m)
		}
	}
	if len(og) == 0 {
		t.Fatal("Other: no rows")
	}
}

// TestDigestOnlyAdded: a listing that differs from the recorded pairs only
// by new files is told apart from one with a flag change or a removal.
func TestDigestOnlyAdded(t *testing.T) {
	var rec []dgPair
	for i := range 50 {
		rec = append(rec, dgPair{fmt.Sprintf("k%03d", i), "S"})
	}
	with := func(change func([]dgPair) []dgPair) *Digest { return dgOf(change(slices.Clone(rec))) }
	for _, tt := range []struct {
		name string
		list *Digest
		want bool
	}{
		{"same", with(func(p []dgPair) []dgPair { return p }), true},
		{"new files", with(func(p []dgPair) []dgPair { return append(p, dgPair{"n1", ""}, dgPair{"n2", "S"}) }), true},
		{"a flag changed", with(func(p []dgPair) []dgPair { p[3].flags = "FS"; return p }), false},
		{"a file removed", with(func(p []dgPair) []dgPair { return p[1:] }), false},
		{"new files and a flag changed elsewhere", with(func(p []dgPair) []dgPair {
			p[7].flags = "RS"
			return append(p, dgPair{"n1", ""})
		}), Bucket("n1") == Bucket("k007")},
	} {
		if got := dgOf(rec).OnlyAdded(tt.list); got != tt.want {
			t.Errorf("%s: OnlyAdded = %v; want %v", tt.name, got, tt.want)
		}
	}
}
