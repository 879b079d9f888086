package benchlib

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
	"time"
)

// MsgSpec describes one generated message. The same spec always yields the
// same bytes.
type MsgSpec struct {
	Seed   uint64 // run seed
	NS     string // Message-ID namespace: "c" corpus, "s" server-side new, "l" client-written
	Seq    int    // unique within NS
	Folder Folder
	Date   time.Time
	Size   int // target size of the whole message without attachment
	Attach int // base64-encoded attachment size in bytes (0: none)
}

// MessageID returns the spec's Message-ID (with angle brackets).
func (s MsgSpec) MessageID() string {
	return fmt.Sprintf("<%s.%s%06d.%08x@bench.mailsync.example>", s.Date.UTC().Format("20060102150405"), s.NS, s.Seq, uint32(mix(s.Seed, s.NS, s.Seq)))
}

func mix(seed uint64, ns string, seq int) uint64 {
	h := seed ^ 0x9e3779b97f4a7c15
	for i := 0; i < len(ns); i++ {
		h = (h ^ uint64(ns[i])) * 0x100000001b3
	}
	h ^= uint64(seq) * 0xbf58476d1ce4e5b9
	h ^= h >> 31
	h *= 0x94d049bb133111eb
	h ^= h >> 29
	return h
}

// Rand returns the deterministic PCG stream for (seed, name): every
// independent decision of the harness draws from its own stream, so adding
// one does not shift the others.
func Rand(seed uint64, name string, n int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, mix(seed, name, n)))
}

var (
	firstNames = []string{"Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannah", "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nora", "Oskar", "Paula", "Quentin", "Rosa", "Stefan", "Tomoko", "Ulrich", "Vera", "Wei", "Xenia", "Yusuf", "Zoë", "Jürgen", "Sören", "Haruto", "Yui"}
	lastNames  = []string{"Schmidt", "Müller", "Tanaka", "Garcia", "Novak", "Okafor", "Larsen", "Rossi", "Dubois", "Kowalski", "Nakamura", "Silva", "Brown", "Johansson", "Weber", "Fischer", "Yamamoto", "Ivanova", "Kim", "O'Brien"}
	domains    = []string{"example.org", "example.com", "mail.example.net", "uni-example.de", "example.co.jp", "corp.example"}
	words      = strings.Fields(`the of and to in is that for it as with was on be by this are or from at an which have
not has but had they were their been its one all would there more when will can about if into other
some these time only could new may then do first any like now than such also them over those through
meeting report release build server client patch review commit branch deploy ticket budget quarter
invoice schedule draft proposal agenda summary feedback question answer issue change update version
kernel package mailing list thread reply archive folder message header attachment config option value
performance memory latency throughput benchmark result test failure regression fix workaround support`)
	germanWords = strings.Fields(`und der die das ist nicht ein eine mit für auf werden über Grüße Entwurf
Änderung Prüfung Straße Größe müssen können möchte Büro Überblick Rückmeldung Besprechung nächste Woche`)
	japaneseWords = strings.Fields(`会議 資料 確認 お願い します よろしく 予定 変更 報告 来週 今日 ありがとう ございます 件名 添付 ファイル 連絡 返信 問題 対応`)
	subjects      = []string{"Quarterly report", "Build failure on main", "Meeting notes", "Invoice %d", "Release %d.%d planning",
		"Question about the config", "Patch review", "Lunch on Friday?", "Server maintenance window", "Budget %d",
		"Travel plans", "Draft proposal v%d", "Your order #%d has shipped", "Weekly summary", "Bug %d: crash on start"}
	attachTypes = []string{"application/pdf\t.pdf", "image/jpeg\t.jpg", "application/zip\t.zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\t.xlsx"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func person(r *rand.Rand) (display, addr string) {
	f, l := pick(r, firstNames), pick(r, lastNames)
	local := strings.ToLower(asciiOnly(f) + "." + asciiOnly(l))
	return f + " " + l, local + "@" + pick(r, domains)
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			b.WriteRune(c)
		case c == 'ü':
			b.WriteString("ue")
		case c == 'ö':
			b.WriteString("oe")
		case c == 'ä':
			b.WriteString("ae")
		case c == 'ë':
			b.WriteString("e")
		}
	}
	return b.String()
}

func addrHeader(display, addr string) string {
	return mime.QEncoding.Encode("utf-8", display) + " <" + addr + ">"
}

// Generate returns the message for spec with CRLF line endings, and its
// Message-ID.
func Generate(spec MsgSpec) ([]byte, string) {
	r := Rand(spec.Seed, "msg-"+spec.NS, spec.Seq)
	mid := spec.MessageID()
	fromName, fromAddr := person(r)
	toName, toAddr := person(r)
	if spec.Folder.Name == "Sent" || spec.Folder.Name == "Drafts" || spec.NS == "l" {
		fromName, fromAddr = "Bench User", "bench.user@example.org"
	} else if r.IntN(2) == 0 {
		toName, toAddr = "Bench User", "bench.user@example.org"
	}
	subject := fmt.Sprintf(pick(r, subjects), r.IntN(9000)+100, r.IntN(20))
	if strings.Contains(subject, "%!") {
		subject = subject[:strings.Index(subject, "%!")]
	}
	lang := words
	switch {
	case strings.HasPrefix(spec.Folder.Name, "Listen"):
		lang = append(append([]string(nil), words...), germanWords...)
		subject = "Entwurf: " + subject + " – Rückmeldung"
	case spec.Folder.Name == "日本語":
		lang = japaneseWords
		subject = "【確認】" + pick(r, japaneseWords) + pick(r, japaneseWords) + "の件"
	}
	if spec.Folder.List != "" {
		tag := strings.SplitN(spec.Folder.List, ".", 2)[0]
		subject = "[" + tag + "] " + subject
	}
	reply := r.IntN(10) < 3
	if reply {
		subject = "Re: " + subject
	}
	date := spec.Date

	var h strings.Builder
	hdr := func(format string, args ...any) {
		fmt.Fprintf(&h, format, args...)
		h.WriteString("\r\n")
	}
	hdr("Return-Path: <%s>", fromAddr)
	hdr("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n\tby imap.example.org (Postfix) with ESMTPS id %X\r\n\tfor <%s>; %s",
		r.IntN(4), domains[r.IntN(len(domains))], r.IntN(4), domains[0], r.IntN(250)+1, r.Uint32(), toAddr,
		date.Add(time.Duration(r.IntN(30))*time.Second).Format(time.RFC1123Z))
	hdr("Date: %s", date.Format(time.RFC1123Z))
	hdr("From: %s", addrHeader(fromName, fromAddr))
	hdr("To: %s", addrHeader(toName, toAddr))
	if r.IntN(10) < 3 {
		ccName, ccAddr := person(r)
		hdr("Cc: %s", addrHeader(ccName, ccAddr))
	}
	// Encoded words folded one per line, as mail clients do.
	hdr("Subject: %s", strings.ReplaceAll(mime.QEncoding.Encode("utf-8", subject), "?= =?", "?=\r\n =?"))
	hdr("Message-ID: %s", mid)
	if reply {
		ref := fmt.Sprintf("<%08x.%d@%s>", r.Uint32(), r.IntN(100000), domains[r.IntN(len(domains))])
		hdr("In-Reply-To: %s", ref)
		hdr("References: %s", ref)
	}
	if spec.Folder.List != "" {
		hdr("List-Id: <%s>", spec.Folder.List)
		hdr("List-Unsubscribe: <mailto:unsubscribe@%s>", spec.Folder.List)
		hdr("Precedence: list")
	}
	hdr("User-Agent: %s", pick(r, []string{"Mutt/2.2.9 (2022-11-12)", "NeoMutt/20220429", "Mozilla Thunderbird 115.6", "aerc 0.17.0", "Apple Mail (2.3774)"}))
	hdr("MIME-Version: 1.0")

	bodyTarget := spec.Size - h.Len() - 100
	if bodyTarget < 200 {
		bodyTarget = 200
	}
	body := text(r, lang, bodyTarget)

	var b strings.Builder
	b.Grow(h.Len() + len(body) + spec.Attach + spec.Attach/38 + 1024)
	b.WriteString(h.String())
	if spec.Attach == 0 {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(body)
		return []byte(b.String()), mid
	}
	boundary := fmt.Sprintf("=-bench-%016x", r.Uint64())
	at := strings.SplitN(pick(r, attachTypes), "\t", 2)
	fname := fmt.Sprintf("%s-%d%s", pick(r, []string{"report", "scan", "photos", "export", "Rechnung", "資料"}), r.IntN(1000), at[1])
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	b.WriteString(body)
	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename*=utf-8''%s\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		boundary, at[0], mime.QEncoding.Encode("utf-8", fname), pctEncode(fname))
	raw := make([]byte, spec.Attach/4*3)
	for i := 0; i+8 <= len(raw); i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			raw[i+k] = byte(v >> (8 * k))
		}
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return []byte(b.String()), mid
}

func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// text returns about n bytes of wrapped paragraphs, CRLF line endings.
func text(r *rand.Rand, lang []string, n int) string {
	var b strings.Builder
	b.Grow(n + 100)
	greet := pick(r, []string{"Hi", "Hello", "Dear all", "Hallo", "Moin"})
	b.WriteString(greet + ",\r\n\r\n")
	line := 0
	sentence := 0
	for b.Len() < n {
		w := pick(r, lang)
		if sentence == 0 && len(w) > 0 && w[0] >= 'a' && w[0] <= 'z' {
			w = string(w[0]-32) + w[1:]
		}
		if line > 0 && line+1+len(w) > 72 {
			b.WriteString("\r\n")
			line = 0
		}
		if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
		sentence++
		if sentence > 6 && r.IntN(8) == 0 {
			b.WriteByte('.')
			line++
			sentence = 0
			if r.IntN(6) == 0 {
				b.WriteString("\r\n\r\n")
				line = 0
			}
		}
	}
	b.WriteString(".\r\n\r\n-- \r\nsent from the mailsync benchmark corpus\r\n")
	return b.String()
}
