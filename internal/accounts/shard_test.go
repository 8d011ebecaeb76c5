package accounts

import (
	"fmt"
	"testing"
)

// syntheticIDs returns n distinct 12-digit IDs. Real IDs are random, but
// consecutive ones are the harder case for a hash to spread.
func syntheticIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%012d", 100000000000+i)
	}
	return ids
}

// assign returns the index of the shard that owns id, and fails the test
// unless exactly one of total shards owns it.
func assign(t *testing.T, id string, total int) int {
	t.Helper()
	owner, owners := -1, 0
	for i := range total {
		if (Shard{Index: i, Total: total}).Owns(id) {
			owner = i
			owners++
		}
	}
	if owners != 1 {
		t.Fatalf("account %s is owned by %d of %d shards, want exactly 1", id, owners, total)
	}
	return owner
}

func TestShardOwnsEachAccountOnceAndEvenly(t *testing.T) {
	ids := syntheticIDs(1000)
	for total := 1; total <= 8; total++ {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			counts := make([]int, total)
			for _, id := range ids {
				counts[assign(t, id, total)]++
			}
			// The IDs are fixed, so this is deterministic; 20% is several
			// standard deviations for 1000 accounts.
			fair := len(ids) / total
			for i, c := range counts {
				if c < fair*8/10 || c > fair*12/10 {
					t.Errorf("shard %d of %d owns %d accounts, want %d ± 20%% (all: %v)", i, total, c, fair, counts)
				}
			}
		})
	}
}

func TestShardResizeMovesFewAccounts(t *testing.T) {
	ids := syntheticIDs(1000)
	for total := 1; total < 8; total++ {
		t.Run(fmt.Sprintf("%d to %d", total, total+1), func(t *testing.T) {
			moved, strayed := 0, 0
			for _, id := range ids {
				before, after := assign(t, id, total), assign(t, id, total+1)
				if before == after {
					continue
				}
				moved++
				// Adding a shard only hands the new one its accounts; so,
				// read backwards, removing the last shard only moves its own.
				if after != total {
					strayed++
				}
			}
			if strayed > 0 {
				t.Errorf("%d accounts moved between old shards instead of to the new shard %d", strayed, total)
			}
			fair := len(ids) / (total + 1)
			if moved > fair*12/10 {
				t.Errorf("%d of %d accounts moved, want about %d (1/%d) or fewer", moved, len(ids), fair, total+1)
			}
		})
	}
}

// TestShardAssignmentsAreStable pins assignments, computed independently
// with Python's hashlib from the recipe in weight. Replicas running
// different versions must agree on who reads which account, so a change to
// the hash is a breaking change, and this test makes it visible.
func TestShardAssignmentsAreStable(t *testing.T) {
	tests := []struct {
		id    string
		total int
		want  int
	}{
		{"111122223333", 3, 0},
		{"111122223333", 4, 3},
		{"111122223333", 8, 3},
		{"444455556666", 6, 5},
		{"012345678901", 2, 1},
		{"012345678901", 5, 4},
		{"517085737175", 3, 2},
		{"123456789012", 8, 6},
	}
	for _, tt := range tests {
		if got := assign(t, tt.id, tt.total); got != tt.want {
			t.Errorf("account %s with %d shards goes to shard %d, want %d", tt.id, tt.total, got, tt.want)
		}
	}
}

func TestShardValidate(t *testing.T) {
	tests := []struct {
		shard   Shard
		wantErr string
	}{
		{Shard{Index: 0, Total: 1}, ""},
		{Shard{Index: 2, Total: 3}, ""},
		{Shard{}, "total shards must be at least 1, got 0"},
		{Shard{Index: 0, Total: -2}, "total shards must be at least 1, got -2"},
		{Shard{Index: 3, Total: 3}, "shard index 3 is outside 0..2 for 3 total shards"},
		{Shard{Index: -1, Total: 3}, "shard index -1 is outside 0..2 for 3 total shards"},
	}
	for _, tt := range tests {
		if got := errText(tt.shard.Validate()); got != tt.wantErr {
			t.Errorf("%+v.Validate() = %q, want %q", tt.shard, got, tt.wantErr)
		}
	}
}
