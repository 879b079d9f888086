package sync

// IncrementalMsg and ListedMsg let the scenario tests count incremental plans.
const (
	IncrementalMsg = incrementalMsg
	ListedMsg      = listedMsg
)
