package state

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkBatchInsert records 256 downloaded messages in one transaction,
// as the downloader does: a plain commit (synchronous=NORMAL) in a store
// opened with fsync on.
func BenchmarkBatchInsert(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"), true)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f, err := s.EnsureFolder(ctx, "INBOX", "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	uid := uint32(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx, err := s.Begin(ctx, f.ID)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 256; j++ {
			uid++
			if _, err := tx.Insert(Message{UID: uid, Key: fmt.Sprintf("k%d", uid), Flags: "S", Size: 4096, MessageID: "<m@x>"}); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/message")
}

// BenchmarkLoadMessages reads a 20,000-message folder's state.
func BenchmarkLoadMessages(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"), false)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f, _ := s.EnsureFolder(ctx, "INBOX", "INBOX")
	tx, _ := s.Begin(ctx, f.ID)
	for i := 1; i <= 20000; i++ {
		if _, err := tx.Insert(Message{UID: uint32(i), Key: fmt.Sprintf("k%d", i), Flags: "S"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ms, err := s.Messages(ctx, f.ID)
		if err != nil || len(ms) != 20000 {
			b.Fatal(len(ms), err)
		}
	}
}
