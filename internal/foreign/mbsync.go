package foreign

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MbsyncStateFile is the state file of mbsync in a folder's directory, as
// `SyncState *` keeps it.
const MbsyncStateFile = ".mbsyncstate"

// Mbsync reads the mbsync state of the Maildir folder at dir: the folder's
// own .mbsyncstate or, with stateDir (a SyncState directory), the file
// there whose name ends in the folder's near box name (box, '/'-separated,
// as mbsync names it: "INBOX", "Lists/go"). It returns nil and no error
// when there is none. farValidity is the server UIDVALIDITY the state was
// recorded under; hints recorded under another one pair nothing.
func Mbsync(dir, stateDir, box string) (h *Hints, farValidity uint32, err error) {
	p := filepath.Join(dir, MbsyncStateFile)
	if stateDir != "" {
		if p, err = mbsyncStateIn(stateDir, box); p == "" || err != nil {
			return nil, 0, err
		}
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h, farValidity, err = parseMbsync(bufio.NewScanner(f))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", p, err)
	}
	return h, farValidity, nil
}

// mbsyncStateIn finds a folder's state file in a SyncState directory.
// mbsync names it FAR-STORE:FAR-BOX_:NEAR-STORE:NEAR-BOX with each '/' of
// the box names turned into '!'; the store names come from the mbsync
// config, which mailsync no longer reads, so the file is found by its
// near box. Two candidates (two channels into one Maildir) give none.
func mbsyncStateIn(stateDir, box string) (string, error) {
	des, err := os.ReadDir(stateDir)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	suffix := ":" + strings.ReplaceAll(box, "/", "!")
	found := ""
	for _, de := range des {
		n := de.Name()
		if de.IsDir() || strings.HasSuffix(n, ".journal") || strings.HasSuffix(n, ".new") || strings.HasSuffix(n, ".lock") {
			continue
		}
		i := strings.LastIndex(n, "_:")
		if i < 0 || !strings.HasSuffix(n[i+1:], suffix) || strings.Count(n[i+2:], ":") != 1 {
			continue
		}
		if found != "" {
			return "", nil
		}
		found = filepath.Join(stateDir, n)
	}
	return found, nil
}

// parseMbsync reads mbsync 1.x's state: header lines ("FarUidValidity N",
// "NearUidValidity N", "MaxPulledUid N", …) up to a blank line, then one
// line per pair: "FAR-UID NEAR-UID FLAGS", where FLAGS may start with a
// status mark. A pair with a zero on either side is not (yet) a pair.
func parseMbsync(sc *bufio.Scanner) (*Hints, uint32, error) {
	h := &Hints{Tool: "mbsync", byU: map[uint32]Hint{}}
	var farValidity uint32
	header := true
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if header {
			if text == "" {
				header = false
				continue
			}
			k, v, _ := strings.Cut(text, " ")
			if k == "FarUidValidity" || k == "MasterUidValidity" {
				n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
				if err != nil {
					return nil, 0, fmt.Errorf("line %d: bad %s %q", line, k, v)
				}
				farValidity = uint32(n)
			}
			continue
		}
		if text == "" {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return nil, 0, fmt.Errorf("line %d: want FAR-UID NEAR-UID [FLAGS], got %q", line, text)
		}
		far, err1 := strconv.ParseInt(fields[0], 10, 64)
		near, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, 0, fmt.Errorf("line %d: want FAR-UID NEAR-UID [FLAGS], got %q", line, text)
		}
		if far <= 0 || near <= 0 || far > 1<<32-1 || near > 1<<32-1 {
			continue
		}
		flags := ""
		if len(fields) > 2 {
			flags = maildirFlags(fields[2])
		}
		h.byU[uint32(near)] = Hint{ServerUID: uint32(far), Flags: flags}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if header {
		return nil, 0, fmt.Errorf("no blank line after the header: not an mbsync state file")
	}
	return h, farValidity, nil
}
