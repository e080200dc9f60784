package redis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/redis"
	"github.com/knot-dev/knot/storage/redis/redistest"
	"github.com/knot-dev/knot/storage/storetest"
)

// mustStartCluster starts a Redis Cluster of three masters on loopback,
// each holding a third of the slots, and returns their addresses.
func mustStartCluster(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var nodes []*redistest.Server
	var addrs []string
	for range 3 {
		r := redistest.MustStart(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		nodes = append(nodes, r)
		addrs = append(addrs, r.Addr)
	}
	for i, n := range nodes {
		if err := n.Admin.ClusterAddSlotsRange(ctx, firstSlot(i), firstSlot(i+1)-1).Err(); err != nil {
			t.Fatalf("add slots to node %d: %v", i, err)
		}
		if i > 0 {
			if err := nodes[0].Admin.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(n.Port)).Err(); err != nil {
				t.Fatalf("meet node %d: %v", i, err)
			}
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		ready := true
		for _, n := range nodes {
			info, err := n.Admin.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				ready = false
			}
		}
		if ready {
			return addrs
		}
		select {
		case <-deadline:
			t.Fatal("the cluster did not come up within a minute")
		case <-tick.C:
		}
	}
}

// firstSlot is the first of the slots that node i of the test cluster holds.
func firstSlot(i int) int { return i * 16384 / 3 }

func TestCluster(t *testing.T) {
	addrs := mustStartCluster(t)
	n := 0
	open := func(t *testing.T, prefix string) storage.Store {
		s, err := redis.Open(context.Background(), redis.Options{Hosts: addrs, KeyPrefix: prefix})
		if err != nil {
			t.Fatalf("open the store %s on the cluster: %v", prefix, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	newPrefix := func() string { n++; return "cluster" + strconv.Itoa(n) }

	// The prefixes of the suite's stores spread over the nodes; each store
	// keeps to one slot.
	storetest.Run(t, func(t *testing.T) storage.Store { return open(t, newPrefix()) })
	storetest.RunShared(t, func(t *testing.T) (storage.Store, storage.Store) {
		p := newPrefix()
		return open(t, p), open(t, p)
	})

	t.Run("StoresSpreadOverTheNodes", func(t *testing.T) {
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, Protocol: 2})
		defer c.Close()
		owners := map[int]bool{}
		for i := 1; i <= n; i++ {
			slot := goredis.NewIntCmd(context.Background(), "CLUSTER", "KEYSLOT", "{cluster"+strconv.Itoa(i)+"}:meta")
			if err := c.Process(context.Background(), slot); err != nil {
				t.Fatal(err)
			}
			for node := range 3 {
				if int(slot.Val()) >= firstSlot(node) && int(slot.Val()) < firstSlot(node+1) {
					owners[node] = true
				}
			}
		}
		if len(owners) != 3 {
			t.Fatalf("the stores of the suite sit on %d of the 3 nodes", len(owners))
		}
	})
}
