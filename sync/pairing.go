package sync

import (
	"context"
	"fmt"
	"slices"
	"time"

	"mailsync/internal/foreign"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// A folder with no recorded pairs whose two sides both hold messages is
// paired before anything moves: a Maildir that offlineimap or mbsync kept,
// a state file that was lost, mail put on both sides by other means.
// Transferring first would double every message on both sides.
//
// Messages are paired by what they are, never by what a file name says:
//   - a U= in a file name (offlineimap's and mailsync's are server UIDs;
//     mbsync's is its own numbering, which its state maps to the server's)
//     names a candidate, paired only if its Message-ID and size agree;
//   - then by Message-ID and size;
//   - then, for messages without a Message-ID, and for those whose server
//     copy is a few bytes larger (mbsync adds an X-TUID header line to
//     the copies it uploads, not to its file), by size and a hash of the
//     header without X-TUID, fetched with BODY.PEEK[HEADER] for those
//     messages only.
//
// A pair's flags are merged against the other tool's record of them when
// its state names the pair (so a flag removed on one side while the user
// switched stays removed); without one, a flag set on either side wins.

// pairServerMsg is a server message as pairing sees it.
type pairServerMsg struct {
	uid   uint32
	size  int64
	msgID string
	flags flagSet
}

// pairLocalMsg is a local file as pairing sees it.
type pairLocalMsg struct {
	entry maildir.Entry
	size  int64
	msgID string
	// hint is the server UID the file's name or the other tool's state
	// suggests (0: none); base is that tool's record of the pair's flags.
	hint uint32
	base *flagSet
}

// pairer matches local files with server messages; it is pure, and is
// driven in passes so that the caller can fetch header hashes in between.
type pairer struct {
	server  map[uint32]*pairServerMsg
	claimed map[uint32]bool
	pairs   []state.Message
	paired  []bool // by index into local
	local   []pairLocalMsg
	// hinted counts the pairs a hint suggested and the content confirmed;
	// refuted those it suggested wrongly.
	hinted, refuted int
}

func newPairer(server []pairServerMsg, local []pairLocalMsg) *pairer {
	p := &pairer{server: make(map[uint32]*pairServerMsg, len(server)), claimed: map[uint32]bool{},
		local: local, paired: make([]bool, len(local))}
	for i := range server {
		p.server[server[i].uid] = &server[i]
	}
	return p
}

func (p *pairer) pair(i int, s *pairServerMsg, base *flagSet) {
	l := p.local[i]
	lf := parseMaildirFlags(l.entry.Name.Flags)
	b := lf & s.flags // a flag set on either side wins
	if base != nil {
		b = *base
	}
	p.claimed[s.uid] = true
	p.paired[i] = true
	p.pairs = append(p.pairs, state.Message{UID: s.uid, Key: l.entry.Name.Key, Flags: b.maildir(), Size: s.size, MessageID: s.msgID})
}

// byHints pairs the files whose hint the content confirms.
func (p *pairer) byHints() {
	for i, l := range p.local {
		if l.hint == 0 || l.msgID == "" {
			continue // without a Message-ID, the header hash decides
		}
		s, ok := p.server[l.hint]
		if !ok || p.claimed[l.hint] || s.msgID != l.msgID || s.size != l.size {
			p.refuted++
			continue
		}
		p.hinted++
		p.pair(i, s, l.base)
	}
}

// byMessageID pairs by Message-ID and size, in UID and key order, so that
// duplicates pair one to one.
func (p *pairer) byMessageID() {
	type id struct {
		msgID string
		size  int64
	}
	free := make(map[id][]uint32)
	for _, uid := range p.freeServer() {
		if s := p.server[uid]; s.msgID != "" {
			k := id{s.msgID, s.size}
			free[k] = append(free[k], uid)
		}
	}
	for i, l := range p.local {
		if p.paired[i] || l.msgID == "" {
			continue
		}
		k := id{l.msgID, l.size}
		if uids := free[k]; len(uids) > 0 {
			free[k] = uids[1:]
			p.pair(i, p.server[uids[0]], nil)
		}
	}
}

// serverIdentity is a server message's identity from its header: the
// hash of the header without X-TUID, and the size without that line.
type serverIdentity struct {
	hash [32]byte
	size int64
}

// byHash pairs by size and header hash, both without X-TUID on either
// side: the messages without a Message-ID, and those whose server copy
// carries mbsync's X-TUID.
func (p *pairer) byHash(server map[uint32]serverIdentity, localHash map[int][32]byte) {
	type id struct {
		hash [32]byte
		size int64
	}
	free := make(map[id][]uint32)
	for _, uid := range p.freeServer() {
		if s, ok := server[uid]; ok {
			k := id(s)
			free[k] = append(free[k], uid)
		}
	}
	for i, l := range p.local {
		h, ok := localHash[i]
		if p.paired[i] || !ok {
			continue
		}
		k := id{h, l.size}
		uids := free[k]
		if len(uids) == 0 {
			continue
		}
		// The other tool's record of the pair, if it names this one.
		uid, base := uids[0], (*flagSet)(nil)
		if j := slices.Index(uids, l.hint); l.hint != 0 && j >= 0 {
			uid, base = l.hint, l.base
			uids = slices.Delete(slices.Clone(uids), j, j+1)
		} else {
			uids = uids[1:]
		}
		free[k] = uids
		p.pair(i, p.server[uid], base)
	}
}

// maxTUIDLine bounds the X-TUID line mbsync adds ("X-TUID: " and 12
// characters, 22 bytes with CRLF), with room for other lengths.
const maxTUIDLine = 64

// unpairedForHeaders returns the unpaired local indexes and free server
// UIDs whose headers byHash needs: those without a Message-ID, and those
// whose Message-ID a server message shares at a size up to maxTUIDLine
// larger, which a server copy with mbsync's X-TUID has.
func (p *pairer) unpairedForHeaders() (local []int, server []uint32) {
	free := p.freeServer()
	bigger := make(map[string][]uint32) // Message-ID → free server UIDs
	for _, uid := range free {
		if s := p.server[uid]; s.msgID != "" {
			bigger[s.msgID] = append(bigger[s.msgID], uid)
		}
	}
	want := make(map[uint32]bool)
	for i, l := range p.local {
		if p.paired[i] {
			continue
		}
		if l.msgID == "" {
			local = append(local, i)
			continue
		}
		found := false
		for _, uid := range bigger[l.msgID] {
			if d := p.server[uid].size - l.size; d > 0 && d <= maxTUIDLine {
				want[uid], found = true, true
			}
		}
		if found {
			local = append(local, i)
		}
	}
	for _, uid := range free {
		if p.server[uid].msgID == "" || want[uid] {
			server = append(server, uid)
		}
	}
	return local, server
}

// freeServer returns the unclaimed server UIDs, ascending.
func (p *pairer) freeServer() []uint32 {
	var out []uint32
	for uid := range p.server {
		if !p.claimed[uid] {
			out = append(out, uid)
		}
	}
	slices.Sort(out)
	return out
}

// pairFirst pairs the folder's files and server messages when the state
// holds no pair for it and both sides hold messages. It records the pairs
// (not in a dry run) and leaves them in fs.rows for the merge, with the
// server's UIDs and flags in fs.first so that they are not asked again.
// It returns the keys of the files it considered: their U= must not be
// trusted by the merge's adoption afterwards.
func (fs *folderSync) pairFirst(ctx context.Context, entries []maildir.Entry) (map[string]bool, error) {
	uids, err := fs.conn.UIDs(ctx, time.Time{})
	if err != nil {
		return nil, err
	}
	infos, err := fs.conn.FetchInfo(ctx, uids, true)
	if err != nil {
		return nil, err
	}
	server := make([]pairServerMsg, 0, len(infos))
	fs.first = &firstListing{uids: make(map[uint32]bool, len(infos)), flags: make(map[uint32]flagSet, len(infos))}
	for _, in := range infos {
		f := parseIMAPFlags(in.Flags)
		server = append(server, pairServerMsg{uid: in.UID, size: in.Size, msgID: in.MessageID, flags: f})
		fs.first.uids[in.UID], fs.first.flags[in.UID] = true, f
	}
	hints := fs.foreignHints(ctx)
	local := make([]pairLocalMsg, 0, len(entries))
	considered := make(map[string]bool, len(entries))
	for _, e := range entries {
		considered[e.Name.Key] = true
		l := pairLocalMsg{entry: e}
		l.msgID, l.size = fs.localIdentity(e)
		if l.size == 0 {
			continue // unreadable now: uploaded later, or reported then
		}
		switch {
		case hints != nil:
			if h, ok := hints.Lookup(e.Name.UID); ok {
				l.hint = h.ServerUID
				b := parseMaildirFlags(h.Flags)
				l.base = &b
			}
		case e.Name.FMD5 != "":
			// offlineimap's or mailsync's own name: U= is a server UID.
			l.hint = e.Name.UID
		}
		local = append(local, l)
	}
	// Stable order: files by key, so that duplicates pair the same way on
	// every run.
	slices.SortFunc(local, func(a, b pairLocalMsg) int {
		switch {
		case a.entry.Name.Key < b.entry.Name.Key:
			return -1
		case a.entry.Name.Key > b.entry.Name.Key:
			return 1
		}
		return 0
	})
	p := newPairer(server, local)
	p.byHints()
	p.byMessageID()
	if li, su := p.unpairedForHeaders(); len(li) > 0 && len(su) > 0 {
		headers, err := fs.conn.FetchHeaders(ctx, su)
		if err != nil {
			return nil, err
		}
		serverID := make(map[uint32]serverIdentity, len(headers))
		for uid, hdr := range headers {
			serverID[uid] = headerIdentity(hdr, p.server[uid].size)
		}
		localHash := make(map[int][32]byte, len(li))
		for _, i := range li {
			if h, ok := fs.localHeaderHash(p.local[i].entry); ok {
				localHash[i] = h
			}
		}
		p.byHash(serverID, localHash)
	}
	fs.log.Info().Int("paired", len(p.pairs)).Int("by_hint", p.hinted).Int("hints_refuted", p.refuted).
		Int("local", len(entries)).Int("server", len(server)).Msg("first sync: paired the messages already on both sides")
	if len(p.pairs) == 0 {
		return considered, nil
	}
	fs.report("pair %d local messages with the same messages on the server", len(p.pairs))
	if fs.e.opts.DryRun {
		fs.rows = p.pairs
		return considered, nil
	}
	// The folder's UIDVALIDITY goes with the pairs, so that a renumbering
	// before the end of this sync is recognised as one; UIDNEXT stays 0,
	// so that nothing else is trusted yet.
	fs.st.UIDValidity = fs.server.UIDValidity
	err = fs.withTx(ctx, func(tx *state.Tx) error {
		for _, r := range p.pairs {
			if _, err := tx.Insert(r); err != nil {
				return err
			}
		}
		return tx.UpdateFolder(fs.st)
	})
	if err != nil {
		return nil, fmt.Errorf("recording pairs: %w", err)
	}
	fs.rows, err = fs.e.store.Messages(ctx, fs.st.ID)
	return considered, err
}

// firstListing is what pairFirst learnt of the server: every UID and its
// flags, which the merge then needs not ask again.
type firstListing struct {
	uids  map[uint32]bool
	flags map[uint32]flagSet
}

// foreignHints reads the state of the tool that kept this Maildir before:
// the one the config names, or mbsync when its state file lies in the
// folder. It is a hint: a problem reading it is logged, and pairing goes
// on without it.
func (fs *folderSync) foreignHints(ctx context.Context) *foreign.Hints {
	l := &fs.e.acct.Local
	var h *foreign.Hints
	var err error
	switch {
	case l.PreviousTool == "offlineimap" && l.PreviousState != "":
		name, ok := offlineimapName(l.Path, fs.t.dir)
		if !ok {
			name = fs.t.local
		}
		h, err = foreign.Offlineimap(ctx, l.PreviousState, name)
	case l.PreviousTool == "mbsync" || l.PreviousTool == "":
		var validity uint32
		h, validity, err = foreign.Mbsync(fs.t.dir, l.PreviousState, fs.t.local)
		if h != nil && validity != 0 && validity != fs.server.UIDValidity {
			fs.log.Info().Uint32("mbsync", validity).Uint32("server", fs.server.UIDValidity).
				Msg("mbsync's state is of another UIDVALIDITY; pairing by content alone")
			h = nil
		}
	}
	if err != nil {
		fs.log.Warn().Err(err).Msg("reading the previous tool's state; pairing by content alone")
		return nil
	}
	return h
}

// localHeaderHash hashes a local file's header (see remote.HeaderHash
// and fileIdentity).
func (fs *folderSync) localHeaderHash(e maildir.Entry) ([32]byte, bool) {
	f, err := fs.mf.Open(e)
	if err != nil {
		return [32]byte{}, false
	}
	defer f.Close()
	_, _, hdr := fileIdentity(f)
	if len(hdr) == 0 || len(hdr) >= maxHeaderCapture {
		return [32]byte{}, false // no header, or too long to be whole
	}
	return remote.HeaderHash(hdr), true
}
