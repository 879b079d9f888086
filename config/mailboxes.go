package config

// Mailboxes is where and how mailsync writes the list of local folders
// after each sync, for a mail client's list of mailboxes (mutt's
// `mailboxes`), as offlineimap's [mbnames] does: the keys mailboxes_file
// and mailboxes_format of [general].
type Mailboxes struct {
	File   string // absolute; "" writes no list
	Format string // MailboxesMutt (the default) or MailboxesLines; "" without File
}

// The formats of the mailboxes list.
const (
	// MailboxesMutt is one `mailboxes "PATH"` line per folder, for mutt
	// and neomutt to `source`.
	MailboxesMutt = "mutt"
	// MailboxesLines is one folder path per line, for scripts and other
	// clients.
	MailboxesLines = "lines"
)

func (t *table) mailboxes() Mailboxes {
	var m Mailboxes
	if raw, ok := t.str("mailboxes_file"); ok {
		if p, ok := t.d.expandPath(t.key("mailboxes_file"), raw); ok {
			m.File, m.Format = p, MailboxesMutt
		}
	}
	if f, ok := t.str("mailboxes_format"); ok {
		switch f {
		case MailboxesMutt, MailboxesLines:
			m.Format = f
		default:
			t.d.errorf(t.key("mailboxes_format"), `must be "mutt" or "lines" (got %s)`, quoteValue(f))
		}
		if m.File == "" && !t.has("mailboxes_file") {
			t.d.errorf(t.key("mailboxes_format"), "has no effect without mailboxes_file")
		}
	}
	return m
}
