package state

import (
	"encoding/binary"
	"fmt"
)

// DigestBuckets is how many parts a folder's digest has. Each message pair
// with a local copy falls in one, by a hash of its key, so the rows of a
// part can be read alone (messages.bucket holds each row's part). A
// thousand parts keep a part of a 100,000-message folder to about a hundred
// rows, and a digest to 12 KiB.
const DigestBuckets = 1 << digestBits

const digestBits = 10

// Digest sums up a folder's local side as the state records it: the key and
// flags of every pair with a local copy, hashed and added up per bucket, with
// a count. A listing summed up the same way (Add for each file) equals the
// state's digest when the files and their flags are the ones recorded; where
// they differ, Differs names the buckets whose rows to read.
//
// Sums wrap, so removing a pair is adding its negation and the order of
// changes does not matter. A change goes unseen only if it keeps a bucket's
// 64-bit sum and count both, which for two different sets of pairs happens
// with a chance of about 2⁻⁶⁴.
type Digest struct {
	sums   [DigestBuckets]uint64
	counts [DigestBuckets]uint32
}

// Add counts one file (or pair): its key and its flags as sorted Maildir
// letters.
func (d *Digest) Add(key, flags string) {
	b, h := hashPair(key, flags)
	d.sums[b] += h
	d.counts[b]++
}

func (d *Digest) remove(key, flags string) {
	b, h := hashPair(key, flags)
	d.sums[b] -= h
	d.counts[b]--
}

// OnlyAdded reports whether o differs from d only by holding more files,
// bucket by bucket: what a folder that only received new files shows. A
// bucket can hide a changed or removed file behind an added one, so true
// means "most likely"; false is certain.
func (d *Digest) OnlyAdded(o *Digest) bool {
	for i := range d.sums {
		if d.sums[i] != o.sums[i] && o.counts[i] <= d.counts[i] {
			return false
		}
	}
	return true
}

// merge adds delta's changes to d.
func (d *Digest) merge(delta *Digest) {
	for i := range d.sums {
		d.sums[i] += delta.sums[i]
		d.counts[i] += delta.counts[i]
	}
}

// Len is the number of pairs summed up.
func (d *Digest) Len() int {
	n := 0
	for _, c := range d.counts {
		n += int(c)
	}
	return n
}

// Differs returns the buckets in which d and o differ, ascending.
func (d *Digest) Differs(o *Digest) []int {
	var out []int
	for i := range d.sums {
		if d.sums[i] != o.sums[i] || d.counts[i] != o.counts[i] {
			out = append(out, i)
		}
	}
	return out
}

// Bucket is the digest bucket of a key.
func Bucket(key string) int { return bucketOf(fnvString(fnvOffset, key)) }

func bucketOf(keyHash uint64) int { return int(mix(keyHash) >> (64 - digestBits)) }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix is MurmurHash3's 64-bit finaliser: FNV-1a alone spreads its last
// bytes poorly, and the flags are the last bytes.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func hashPair(key, flags string) (bucket int, h uint64) {
	kh := fnvString(fnvOffset, key)
	bucket = bucketOf(kh)
	h = fnvString(kh^0xff, flags) // 0xff: never in a key, so "ab"+"c" ≠ "a"+"bc"
	return bucket, mix(h)
}

// digestVersion heads an encoded digest, so a later layout can be told apart.
const digestVersion = 1

func (d *Digest) marshal() []byte {
	out := make([]byte, 1, 1+DigestBuckets*12)
	out[0] = digestVersion
	for i := range d.sums {
		out = binary.LittleEndian.AppendUint64(out, d.sums[i])
		out = binary.LittleEndian.AppendUint32(out, d.counts[i])
	}
	return out
}

// unmarshalDigest decodes a stored digest; NULL (nil) is the empty one, as
// a folder has before its first message.
func unmarshalDigest(b []byte) (*Digest, error) {
	d := new(Digest)
	if b == nil {
		return d, nil
	}
	if len(b) != 1+DigestBuckets*12 || b[0] != digestVersion {
		return nil, fmt.Errorf("stored folder digest is malformed (%d bytes, want %d of version %d)", len(b), 1+DigestBuckets*12, digestVersion)
	}
	b = b[1:]
	for i := range d.sums {
		d.sums[i] = binary.LittleEndian.Uint64(b)
		d.counts[i] = binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
	}
	return d, nil
}
