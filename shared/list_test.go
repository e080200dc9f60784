package shared_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

func TestContainsFold(t *testing.T) {
	for _, tt := range []struct {
		s, sub string
		want   bool
	}{
		{"Dev-Box", "dev-b", true},
		{"dev-box", "BOX", true},
		{"dev", "devs", false},
		{"", "", true},
		{"abc", "", true},
		{"Ärger im Büro", "bÜro", true},
		{"Straße", "STRASSE", false},
		{"golang", "lang", true},
		{"golang", "gox", false},
	} {
		if got := shared.ContainsFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("ContainsFold(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.want)
		}
	}
}

func TestByTextIgnoresCaseThenBreaksTies(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"alpha", "Beta", -1},
		{"Beta", "alpha", 1},
		{"ab", "abc", -1},
		{"Ab", "ab", -1}, // equal ignoring case: byte order decides
		{"éclair", "Éclair", 1},
		{"same", "same", 0},
	} {
		if got := shared.ByText(tt.a, tt.b); got != tt.want {
			t.Errorf("ByText(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

type item struct {
	name string
	n    int
}

var itemSorts = shared.Sorts[item]{
	"name": func(a, b item) int { return shared.ByText(a.name, b.name) },
	"n":    func(a, b item) int { return a.n - b.n },
}

func names(p shared.Page[item]) string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.name)
	}
	return strings.Join(out, ",")
}

func TestSelect(t *testing.T) {
	items := []item{{"delta", 1}, {"Alpha", 2}, {"charlie", 1}, {"bravo", 2}, {"echo", 1}}
	orig := fmt.Sprint(items)
	keepA := func(it item) bool { return strings.ContainsAny(it.name, "aA") }
	for _, tt := range []struct {
		name  string
		o     shared.ListOptions
		keep  func(item) bool
		want  string
		total int
	}{
		{"ZeroKeepsAllInOrder", shared.ListOptions{}, nil, "delta,Alpha,charlie,bravo,echo", 5},
		{"SortByName", shared.ListOptions{Sort: "name"}, nil, "Alpha,bravo,charlie,delta,echo", 5},
		{"SortDescending", shared.ListOptions{Sort: "-name"}, nil, "echo,delta,charlie,bravo,Alpha", 5},
		{"TiesKeepTheirOrder", shared.ListOptions{Sort: "n"}, nil, "delta,charlie,echo,Alpha,bravo", 5},
		{"TiesKeepTheirOrderDescending", shared.ListOptions{Sort: "-n"}, nil, "Alpha,bravo,delta,charlie,echo", 5},
		{"Page", shared.ListOptions{Sort: "name", Offset: 1, Limit: 2}, nil, "bravo,charlie", 5},
		{"PastTheEnd", shared.ListOptions{Offset: 9, Limit: 2}, nil, "", 5},
		{"KeepCountsBeforePaging", shared.ListOptions{Sort: "name", Limit: 2}, keepA, "Alpha,bravo", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := shared.Select(items, tt.o, tt.keep, itemSorts)
			if err != nil || names(p) != tt.want || p.Total != tt.total {
				t.Fatalf("Select = %q (total %d), %v; want %q (total %d)", names(p), p.Total, err, tt.want, tt.total)
			}
			if fmt.Sprint(items) != orig {
				t.Fatalf("Select changed its input: %v", items)
			}
		})
	}
}

func TestSelectRefusesOptionsOutOfRange(t *testing.T) {
	for _, tt := range []struct {
		o    shared.ListOptions
		name string
	}{
		{shared.ListOptions{Offset: -1}, "offset"},
		{shared.ListOptions{Limit: -1}, "limit"},
		{shared.ListOptions{Limit: shared.MaxListLimit + 1}, "limit"},
		{shared.ListOptions{Sort: "size"}, "sort"},
		{shared.ListOptions{Sort: "--name"}, "sort"},
		{shared.ListOptions{Query: strings.Repeat("q", shared.MaxQuery+1)}, "q"},
		{shared.ListOptions{Query: "\xff"}, "q"},
	} {
		_, err := shared.Select([]item{{"a", 1}}, tt.o, nil, itemSorts)
		if shared.ErrorCode(err) != shared.EINVALID || !strings.HasPrefix(shared.ErrorMessage(err), tt.name+" ") {
			t.Errorf("Select(%+v) = %v, want EINVALID naming %s", tt.o, err, tt.name)
		}
	}
}

func TestOrdersSortsOncePerVersion(t *testing.T) {
	var o shared.Orders[int]
	calls := 0
	build := func() []int { calls++; return []int{calls} }
	v1, v2 := new(int), new(int)
	o.Get(v1, "name", build)
	o.Get(v1, "name", build)
	if calls != 1 {
		t.Fatalf("same version and key built %d times", calls)
	}
	o.Get(v1, "-name", build)
	if got := o.Get(v2, "name", build); calls != 3 || got[0] != 3 {
		t.Fatalf("a new version was not built again: calls %d, got %v", calls, got)
	}
}

func FuzzContainsFold(f *testing.F) {
	f.Add("Hello World", "WORLD")
	f.Add("Ärger", "ärg")
	f.Fuzz(func(t *testing.T, s, sub string) {
		got := shared.ContainsFold(s, sub)
		if strings.Contains(s, sub) && !got {
			t.Fatalf("ContainsFold(%q, %q) = false, but s contains sub", s, sub)
		}
		if want := strings.Contains(strings.ToLower(s), strings.ToLower(sub)); isASCII(s+sub) && got != want {
			t.Fatalf("ContainsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
