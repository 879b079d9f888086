package importer

import (
	"fmt"
	"strconv"
	"strings"
)

// mbChannel is a Channel resolved to its two stores.
type mbChannel struct {
	sec                     *mbSection
	vals                    map[string]mbLine
	imapStore, maildirStore *mbStore
	imapBox, maildirBox     string // the mailboxes (or prefixes, with Patterns)
	farIsIMAP               bool
	patterns                []string
	patLine                 int
}

func (m *mbimp) channel(s *mbSection) *mbChannel {
	m.unknown(s.items, mbChannelKeys, "Channel "+s.name)
	ch := &mbChannel{sec: s, vals: lastOf(s.items)}
	side := func(keys ...string) (*mbStore, string, int) {
		for _, k := range keys {
			l, ok := ch.vals[k]
			if !ok {
				continue
			}
			spec := l.arg()
			if !strings.HasPrefix(spec, ":") || !strings.Contains(spec[1:], ":") {
				m.problem(nil, l.line, fmt.Sprintf("malformed mailbox spec %q", spec), "write :STORE: or :STORE:MAILBOX (mbsync refuses this too)")
				return nil, "", l.line
			}
			name, box, _ := strings.Cut(spec[1:], ":")
			st, ok := m.stores[name]
			if !ok {
				m.problem(nil, l.line, fmt.Sprintf("unknown store %q", name), "mbsync refuses this too; define the store before the channel")
				return nil, "", l.line
			}
			return st, box, l.line
		}
		return nil, "", 0
	}
	far, farBox, farLine := side("far", "master")
	near, nearBox, nearLine := side("near", "slave")
	if far == nil || near == nil {
		if farLine == 0 || nearLine == 0 {
			m.problem(nil, s.line, fmt.Sprintf("Channel %s needs Far and Near", s.name), "mbsync refuses this too")
		}
		return nil
	}
	switch {
	case far.imap && !near.imap:
		ch.imapStore, ch.maildirStore, ch.imapBox, ch.maildirBox, ch.farIsIMAP = far, near, farBox, nearBox, true
	case near.imap && !far.imap:
		ch.imapStore, ch.maildirStore, ch.imapBox, ch.maildirBox = near, far, nearBox, farBox
	default:
		m.problem(nil, s.line, fmt.Sprintf("Channel %s connects two %s stores", s.name, map[bool]string{true: "IMAP", false: "Maildir"}[far.imap]),
			"mailsync syncs an IMAP server with a Maildir only; not imported")
		return nil
	}
	for _, l := range s.items {
		if k := l.key(); k == "pattern" || k == "patterns" {
			ch.patterns = append(ch.patterns, l.args...)
			if ch.patLine == 0 {
				ch.patLine = l.line
			}
		}
	}
	return ch
}

// syncOps evaluates Sync lines as mbsync's merge_ops does: the operations
// applied to the near side (pulled) and to the far side (pushed).
func (m *mbimp) syncOps(acct *tomlAccount, l mbLine) (toNear, toFar int, ok bool) {
	var cops, far, near int
	noop := false
	for _, a := range l.args {
		switch strings.ToLower(a) {
		case "push":
			cops |= dirPush
		case "pull":
			cops |= dirPull
		case "new":
			cops |= opNew
		case "renew":
			cops |= opReNew
		case "delete":
			cops |= opDelete
		case "flags":
			cops |= opFlags
		case "pullnew":
			near |= opNew
		case "pullrenew":
			near |= opReNew
		case "pulldelete":
			near |= opDelete
		case "pullflags":
			near |= opFlags
		case "pushnew":
			far |= opNew
		case "pushrenew":
			far |= opReNew
		case "pushdelete":
			far |= opDelete
		case "pushflags":
			far |= opFlags
		case "all", "full":
			cops |= dirPull | dirPush
		case "none", "noop":
			noop = true
		default:
			m.problem(acct, l.line, fmt.Sprintf("invalid Sync argument %q", a), "mbsync refuses it too")
			return 0, 0, false
		}
	}
	bad := func(what string) (int, int, bool) {
		m.problem(acct, l.line, "Sync: "+what, "mbsync refuses this too; fix it and import again")
		return 0, 0, false
	}
	switch {
	case (far|near)&opTypes != 0:
		if noop {
			return bad("None with other operations")
		}
		if (far|near)&cops&opTypes != 0 {
			return bad("an operation given twice")
		}
		switch {
		case cops&dirPull != 0:
			if cops&(dirPush|opTypes) != 0 || near&opTypes != 0 {
				return bad("Pull mixed with compound operations")
			}
			near |= opTypes
		case cops&dirPush != 0:
			if cops&opTypes != 0 || far&opTypes != 0 {
				return bad("Push mixed with compound operations")
			}
			far |= opTypes
		default:
			far |= cops & opTypes
			near |= cops & opTypes
		}
	case cops != 0:
		if noop {
			return bad("None with other operations")
		}
		if cops&opTypes == 0 {
			cops |= opTypes
		} else if cops&(dirPull|dirPush) == 0 {
			cops |= dirPull | dirPush
		}
		if cops&dirPull != 0 {
			near |= cops & opTypes
		}
		if cops&dirPush != 0 {
			far |= cops & opTypes
		}
	}
	return near, far, true
}

// boxOps evaluates an Expunge, Create or Remove line: which sides.
func (m *mbimp) boxOps(acct *tomlAccount, l mbLine) (far, near bool) {
	for _, a := range l.args {
		switch strings.ToLower(a) {
		case "both":
			far, near = true, true
		case "far", "master":
			far = true
		case "near", "slave":
			near = true
		case "none":
		default:
			m.problem(acct, l.line, fmt.Sprintf("invalid %s argument %q", l.cmd, a), "mbsync refuses it too")
		}
	}
	return far, near
}

// chanOpt returns the channel's own line for key, or the global one.
func (m *mbimp) chanOpt(ch *mbChannel, key string) (mbLine, bool) {
	if l, ok := ch.vals[key]; ok {
		return l, true
	}
	for i := len(m.global.channelOpts) - 1; i >= 0; i-- {
		if l := m.global.channelOpts[i]; l.key() == key {
			return l, true
		}
	}
	return mbLine{}, false
}

// policy is what a channel says about the account as a whole; the
// channels of one account must agree on it.
type policy struct {
	localReadonly, remoteReadonly       bool
	remoteSyncDeletes, localSyncDeletes bool
	expunge                             bool
	syncState                           string // "" for "*"
	syncStateLine                       int
	maxMessages                         int64
}

func (m *mbimp) policy(acct *tomlAccount, ch *mbChannel) policy {
	p := policy{remoteSyncDeletes: true, localSyncDeletes: true, expunge: true}
	toNear, toFar := opTypes, opTypes
	if l, ok := m.chanOpt(ch, "sync"); ok {
		if n, f, ok := m.syncOps(acct, l); ok {
			toNear, toFar = n, f
		}
	}
	toLocal, toRemote := toNear, toFar
	if !ch.farIsIMAP {
		toLocal, toRemote = toFar, toNear
	}
	// where names the channel when the option is its own; a global one
	// is reported once for all channels.
	where := func(key string) string {
		if _, own := ch.vals[key]; own {
			return fmt.Sprintf(" (Channel %s)", ch.sec.name)
		}
		return ""
	}
	syncLine := ch.sec.line
	if l, ok := m.chanOpt(ch, "sync"); ok {
		syncLine = l.line
	}
	check := func(ops int, dir string) {
		if ops != 0 && ops&(opNew|opFlags) != opNew|opFlags {
			m.problem(acct, syncLine, fmt.Sprintf("Sync propagates only some changes %s%s", dir, where("sync")),
				"mailsync propagates new messages and flag changes together; it syncs both in that direction")
		}
	}
	check(toLocal, "to the Maildir")
	check(toRemote, "to the server")
	p.localReadonly = toLocal == 0
	p.remoteReadonly = toRemote == 0
	p.remoteSyncDeletes = toLocal&opDelete != 0
	p.localSyncDeletes = toRemote&opDelete != 0

	// Expunge, Create, Remove: which side is the server's?
	sides := func(key string) (remote, local bool, line int) {
		l, ok := m.chanOpt(ch, key)
		if !ok {
			return false, false, 0
		}
		f, n := m.boxOps(acct, l)
		if ch.farIsIMAP {
			return f, n, l.line
		}
		return n, f, l.line
	}
	expR, expL, expLine := sides("expunge")
	p.expunge = expR
	if !p.localReadonly && p.remoteSyncDeletes && !expL {
		w := where("expunge")
		if expLine == 0 {
			expLine, w = ch.sec.line, fmt.Sprintf(" (Channel %s)", ch.sec.name)
		}
		m.problem(acct, expLine, fmt.Sprintf("Expunge leaves out the Maildir%s: mbsync only flags (T) the local copy of a message deleted on the server", w),
			"mailsync deletes that copy; set remote.sync_deletes = false to keep such copies instead")
	}
	crR, crL, crLine := sides("create")
	w := where("create")
	if crLine == 0 {
		crLine, w = ch.sec.line, fmt.Sprintf(" (Channel %s)", ch.sec.name)
	}
	if !crR && !p.remoteReadonly || !crL && !p.localReadonly {
		m.problem(acct, crLine, fmt.Sprintf("Create does not cover both sides%s: mailsync creates a folder missing on either side", w),
			`exclude the folders that must not be created with folders = [..., "!NAME"]`)
	}
	if rmR, rmL, rmLine := sides("remove"); rmR || rmL {
		m.problem(acct, rmLine, fmt.Sprintf("Remove%s: mailsync never deletes a folder; a folder gone from one side stops its sync until you act", where("remove")),
			"delete the folder on the other side by hand when that happens")
	}
	if l, ok := m.chanOpt(ch, "maxmessages"); ok {
		if n, err := strconv.ParseInt(l.arg(), 10, 64); err == nil && n > 0 {
			p.maxMessages = n
			m.problem(acct, l.line, fmt.Sprintf("MaxMessages %d: mailsync keeps every message of a synced folder", n),
				`limit by age instead with max_age = "90d" (messages older are left alone on both sides)`)
		}
	}
	p.syncState = "~/.mbsync/"
	if l, ok := m.chanOpt(ch, "syncstate"); ok {
		p.syncStateLine = l.line
		if l.arg() == "*" {
			p.syncState = ""
		} else {
			p.syncState = l.arg()
		}
	}
	return p
}
