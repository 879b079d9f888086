package accounts

import (
	"encoding/json"
	"io"
)

// writeJSON writes v as the one indented JSON document of a --json
// command (status, check, folders, sync).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
