package sync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailsync/accounts"
	"mailsync/internal/memserver"
	msync "mailsync/sync"
)

// eventLog collects the engine's events.
type eventLog struct {
	mu  gosync.Mutex
	evs []msync.Event
}

func (l *eventLog) add(ev msync.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) take() []msync.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.evs
	l.evs = nil
	return evs
}

// byFolder checks each folder's events are in the documented order and
// add up to its result, and returns the folders that had any.
func checkEvents(t *testing.T, evs []msync.Event, sum *msync.Summary) map[string]bool {
	t.Helper()
	type seen struct {
		started, planned, finished bool
		total, moved               int
		plannedBy, movedBy         [2]int // by msync.Direction
	}
	folders := map[string]*seen{}
	for _, ev := range evs {
		if ev.Account != "t" {
			t.Errorf("event for account %q, want t", ev.Account)
		}
		f := folders[ev.Folder]
		if f == nil {
			f = &seen{}
			folders[ev.Folder] = f
		}
		if f.finished {
			t.Errorf("%s: event %d after FolderFinished", ev.Folder, ev.Kind)
		}
		switch ev.Kind {
		case msync.FolderStarted:
			f.started = true
		case msync.FolderPlanned:
			if !f.started || f.planned {
				t.Errorf("%s: FolderPlanned out of order", ev.Folder)
			}
			f.planned, f.total = true, ev.Total
			f.plannedBy = [2]int{ev.Pulls, ev.Pushes}
			if ev.Pulls+ev.Pushes != ev.Total {
				t.Errorf("%s: planned %d pulls and %d pushes, Total %d", ev.Folder, ev.Pulls, ev.Pushes, ev.Total)
			}
		case msync.Transferred:
			if !f.planned {
				t.Errorf("%s: Transferred before FolderPlanned", ev.Folder)
			}
			f.moved += ev.N
			f.movedBy[ev.Dir] += ev.N
			if ev.N <= 0 || ev.Bytes <= 0 {
				t.Errorf("%s: Transferred %d messages of %d bytes", ev.Folder, ev.N, ev.Bytes)
			}
		case msync.FolderFinished:
			if !f.started || ev.Result == nil {
				t.Errorf("%s: FolderFinished without FolderStarted or result", ev.Folder)
			}
			f.finished = true
		}
	}
	out := map[string]bool{}
	for _, r := range sum.Folders {
		f := folders[r.Folder]
		if f == nil {
			if !r.Unchanged {
				t.Errorf("%s: synced without events", r.Folder)
			}
			continue
		}
		out[r.Folder] = true
		want := r.Counts.Pulled + r.Counts.Pushed
		if !f.finished || f.total != want || f.moved != want {
			t.Errorf("%s: planned %d and transferred %d, finished %v; the result moved %d", r.Folder, f.total, f.moved, f.finished, want)
		}
		if byDir := [2]int{r.Counts.Pulled, r.Counts.Pushed}; f.plannedBy != byDir || f.movedBy != byDir {
			t.Errorf("%s: planned %v and transferred %v (pull, push); the result moved %v", r.Folder, f.plannedBy, f.movedBy, byDir)
		}
	}
	return out
}

// TestEventsAndRequests: a run's events add up to its summary, a request
// for one folder syncs only that folder, and a request for a folder that
// exists nowhere is that folder's error.
func TestEventsAndRequests(t *testing.T) {
	srv, err := memserver.Start([]string{"ev"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	date := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for folder, n := range map[string]int{"INBOX": 5, "Work": 3} {
		if err := srv.Create("ev", folder); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			msg := fmt.Sprintf("Message-ID: <%s-%d@ev>\r\nSubject: %d\r\n\r\nbody\r\n", folder, i, i)
			if err := srv.Append("ev", folder, []byte(msg), date); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	host, port := splitAddr(t, srv.Addr)
	cfg := accountConfig(t, dir, host, port, "ev", "pw", extraKeys{})
	var log eventLog
	run := func(req msync.Request) *msync.Summary {
		t.Helper()
		rs := accounts.Run(context.Background(), accounts.Options{
			Config: cfg, Log: zerolog.Nop(), Request: req,
			Engine: msync.Options{Events: log.add},
		})
		if rs[0].Err != nil {
			t.Fatalf("run: %v", rs[0].Err)
		}
		return rs[0].Summary
	}

	sum := run(msync.Request{})
	if got := checkEvents(t, log.take(), sum); !got["INBOX"] || !got["Work"] || sum.Counts.Pulled != 8 {
		t.Errorf("first run: events for %v, pulled %d; want INBOX and Work, 8", got, sum.Counts.Pulled)
	}

	// A mail client's new messages in both folders; one folder is asked for.
	for _, folder := range []string{"INBOX", "Work"} {
		for i := 0; i < 2; i++ {
			name := filepath.Join(dir, "Mail", folder, "new", fmt.Sprintf("170000000%d.local%d.host", i, i))
			msg := fmt.Sprintf("Message-ID: <local-%s-%d@ev>\nSubject: local\n\nbody\n", folder, i)
			if err := os.WriteFile(name, []byte(msg), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	sum = run(msync.Request{Folders: []string{"Work"}})
	got := checkEvents(t, log.take(), sum)
	if len(sum.Folders) != 1 || sum.Folders[0].Folder != "Work" || !got["Work"] || sum.Counts.Pushed != 2 {
		t.Errorf("request for Work: folders %+v, pushed %d; want only Work, 2 pushed", sum.Folders, sum.Counts.Pushed)
	}
	// The uploaded files carry their UID, and stay in new/, where the
	// mail client put them: a client shows what is in new/ as new.
	des, err := os.ReadDir(filepath.Join(dir, "Mail", "Work", "new"))
	if err != nil {
		t.Fatal(err)
	}
	withUID := 0
	for _, de := range des {
		if strings.Contains(de.Name(), ".local") && strings.Contains(de.Name(), ",U=") && !strings.Contains(de.Name(), ":2,") {
			withUID++
		}
	}
	if withUID != 2 {
		t.Errorf("Work/new holds %v; want the 2 uploaded files, renamed with their U=, no info", des)
	}
	sum = run(msync.Request{})
	checkEvents(t, log.take(), sum)
	if sum.Counts.Pushed != 2 {
		t.Errorf("the next full run pushed %d, want INBOX's 2", sum.Counts.Pushed)
	}

	// A folder that exists nowhere fails the request before any folder
	// is synced.
	log.take()
	rs := accounts.Run(context.Background(), accounts.Options{
		Config: cfg, Log: zerolog.Nop(), Engine: msync.Options{Events: log.add},
		Request: msync.Request{Folders: []string{"Nope"}},
	})
	if !errors.Is(rs[0].Err, msync.ErrUnknownFolder) || len(log.take()) != 0 {
		t.Errorf("request for a folder that exists nowhere: %v; want ErrUnknownFolder and no folder synced", rs[0].Err)
	}
}
