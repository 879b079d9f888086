package sync

import (
	"context"
)

// filterDownloads applies max_age and max_size to the new server messages.
func (fs *folderSync) filterDownloads(ctx context.Context, p *plan) error {
	acct := fs.e.acct
	if len(p.download) == 0 {
		return nil
	}
	if !acct.MaxAge.IsZero() {
		since, err := fs.conn.UIDs(ctx, acct.MaxAge.Since(fs.e.opts.Now()))
		if err != nil {
			return err
		}
		ok := make(map[uint32]bool, len(since))
		for _, u := range since {
			ok[u] = true
		}
		kept := p.download[:0]
		for _, u := range p.download {
			if ok[u] {
				kept = append(kept, u)
			}
		}
		p.download = kept
	}
	if acct.MaxSize > 0 && len(p.download) > 0 {
		infos, err := fs.conn.FetchInfo(ctx, p.download, false)
		if err != nil {
			return err
		}
		big := make(map[uint32]int64)
		for _, in := range infos {
			if in.Size > acct.MaxSize {
				big[in.UID] = in.Size
			}
		}
		kept := p.download[:0]
		for _, u := range p.download {
			if size, ok := big[u]; ok {
				fs.log.Warn().Uint32("uid", u).Int64("size", size).Int64("max_size", acct.MaxSize).
					Msg("message larger than max_size; not downloaded")
				fs.c.Skipped++
				continue
			}
			kept = append(kept, u)
		}
		p.download = kept
	}
	return nil
}
