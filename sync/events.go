package sync

// EventKind tells what an Event reports.
type EventKind int

const (
	FolderStarted EventKind = iota
	FolderFinished
)

// Event is a progress report.
type Event struct {
	Account string
	Folder  string
	Kind    EventKind
	Result  *FolderResult // with FolderFinished
}
