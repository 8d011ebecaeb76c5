package accounts

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Shard is one of Total exporter replicas that split the accounts between
// them. Each account belongs to exactly one shard, chosen by rendezvous
// (highest random weight) hashing of its ID: every shard gets a
// pseudo-random weight per account and the heaviest shard owns it. So an
// account's shard depends on nothing but its ID and Total: accounts joining
// or leaving the organization never move others, and going from N to N+1
// shards moves only the accounts the new shard wins, about 1/(N+1) of them.
//
// The zero value is invalid; Shard{Index: 0, Total: 1} owns every account.
type Shard struct {
	Index, Total int
}

// Validate checks that Index names one of Total shards.
func (s Shard) Validate() error {
	if s.Total < 1 {
		return fmt.Errorf("total shards must be at least 1, got %d", s.Total)
	}
	if s.Index < 0 || s.Index >= s.Total {
		return fmt.Errorf("shard index %d is outside 0..%d for %d total shards", s.Index, s.Total-1, s.Total)
	}
	return nil
}

// Owns reports whether accountID belongs to this shard.
func (s Shard) Owns(accountID string) bool {
	return s.Total <= 1 || owner(accountID, s.Total) == s.Index
}

func owner(accountID string, total int) int {
	best, bestWeight := 0, uint64(0)
	for i := range total {
		if w := weight(accountID, i); i == 0 || w > bestWeight {
			best, bestWeight = i, w
		}
	}
	return best
}

// weight must never change: replicas of different versions, or a restart
// after an upgrade, would otherwise read overlapping sets of accounts.
// SHA-256 is fixed by its standard and spreads similar IDs evenly.
func weight(accountID string, shard int) uint64 {
	sum := sha256.Sum256([]byte(accountID + "/" + strconv.Itoa(shard)))
	return binary.BigEndian.Uint64(sum[:8])
}
