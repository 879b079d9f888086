package sync

import (
	"fmt"
	"testing"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

// BenchmarkMakePlan merges a 20,000-message folder in which 1% changed on
// each side and 100 messages are new on each side.
func BenchmarkMakePlan(b *testing.B) {
	const n = 20000
	md5 := maildir.FolderMD5("INBOX")
	in := planInput{remoteUIDs: make(map[uint32]bool, n+100), remoteFlags: map[uint32]flagSet{}, folderMD5: md5,
		localSide: sidePolicy{syncDeletes: true}, remoteSide: sidePolicy{syncDeletes: true}}
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf("k%d", i)
		in.state = append(in.state, state.Message{ID: int64(i), UID: uint32(i), Key: key, Flags: "S"})
		flags := "S"
		if i%100 == 0 {
			flags = "FS"
		}
		nm, _ := maildir.ParseName(fmt.Sprintf("%s,U=%d,FMD5=%s:2,%s", key, i, md5, flags))
		in.local = append(in.local, maildir.Entry{Sub: maildir.Cur, File: nm.String(), Name: nm})
		in.remoteUIDs[uint32(i)] = true
		if i%100 == 50 {
			in.remoteFlags[uint32(i)] = flagSeen | flagAnswered
		}
	}
	for i := 0; i < 100; i++ {
		in.remoteUIDs[uint32(n+1+i)] = true
		nm, _ := maildir.ParseName(fmt.Sprintf("new%d", i))
		in.local = append(in.local, maildir.Entry{Sub: maildir.New, File: nm.String(), Name: nm})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := makePlan(in)
		if len(p.download) != 100 || len(p.upload) != 100 || len(p.push) != 200 {
			b.Fatalf("unexpected plan: %d down, %d up, %d push", len(p.download), len(p.upload), len(p.push))
		}
	}
}
