package importer

import (
	"strings"
	"testing"
)

func FuzzLoadsOI(f *testing.F) {
	addFixtures(f, "offlineimap")
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Offlineimap("fuzz.conf", data, Options{Env: env})
		if err != nil {
			return
		}
		for _, p := range res.Problems {
			if strings.Contains(p.What, "does not load") {
				t.Fatalf("%s", p)
			}
		}
	})
}

func FuzzLoadsMB(f *testing.F) {
	addFixtures(f, "mbsync")
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Mbsync("fuzz.conf", data, Options{Env: env})
		if err != nil {
			return
		}
		for _, p := range res.Problems {
			if strings.Contains(p.What, "does not load") {
				t.Fatalf("%s", p)
			}
		}
	})
}
