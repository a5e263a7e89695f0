package imagenet

import (
	"fmt"
	"strings"
	"testing"
)

func TestClasses(t *testing.T) {
	cs := Classes()
	if len(cs) != NumClasses {
		t.Fatalf("%d classes, want %d", len(cs), NumClasses)
	}
	// Well-known classes, checked against the index every ImageNet model
	// uses for them.
	tests := []struct {
		index int
		wnid  string
		label string
	}{
		{0, "n01440764", "tench, Tinca tinca"},
		{1, "n01443537", "goldfish, Carassius auratus"},
		{134, "n02012849", "crane"},
		{207, "n02099601", "golden retriever"},
		{281, "n02123045", "tabby, tabby cat"},
		{388, "n02510455", "giant panda, panda, panda bear, coon bear, Ailuropoda melanoleuca"},
		{517, "n03126707", "crane"},
		{980, "n09472597", "volcano"},
		{999, "n15075141", "toilet tissue, toilet paper, bathroom tissue"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.index), func(t *testing.T) {
			c := cs[tt.index]
			if c.Index != tt.index || c.WNID != tt.wnid || c.Label() != tt.label {
				t.Errorf("class %d = {%d %s %q}, want {%d %s %q}", tt.index, c.Index, c.WNID, c.Label(), tt.index, tt.wnid, tt.label)
			}
		})
	}
	labels := Labels()
	if len(labels) != NumClasses || labels[281] != "tabby, tabby cat" {
		t.Errorf("Labels: %d labels, [281] = %q", len(labels), labels[281])
	}
	for _, c := range cs {
		for _, n := range c.Names {
			if n != strings.TrimSpace(n) || n == "" || strings.ContainsAny(n, ",\t") {
				t.Errorf("class %d: name %q is not trimmed or holds a separator", c.Index, n)
			}
		}
	}
}

// valid builds a classes.tsv of n lines with increasing wnids.
func valid(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("%d\tn%08d\tclass %d, other name", i, 1000+i, i)
	}
	return lines
}

func TestParse(t *testing.T) {
	edit := func(f func(lines []string) []string) string {
		return strings.Join(f(valid(NumClasses)), "\n") + "\n"
	}
	tests := []struct {
		name string
		text string
		err  string // "" for valid
	}{
		{"valid", edit(func(l []string) []string { return l }), ""},
		{"no final newline", strings.TrimSuffix(edit(func(l []string) []string { return l }), "\n"), ""},
		{"one short", edit(func(l []string) []string { return l[:NumClasses-1] }), "999 lines, want 1000"},
		{"one too many", edit(func(l []string) []string { return append(l, l[0]) }), "1001 lines"},
		{"two fields", edit(func(l []string) []string { l[5] = "5\tn00001005"; return l }), "classes.tsv:6: 2 tab-separated fields"},
		{"wrong index", edit(func(l []string) []string { l[7] = strings.Replace(l[7], "7", "8", 1); return l }), `classes.tsv:8: index "8", want 7`},
		{"bad wnid", edit(func(l []string) []string { l[3] = "3\tx00001003\tthree"; return l }), `"x00001003" is not a WordNet noun id`},
		{"out of order", edit(func(l []string) []string { l[10], l[11] = "10\tn00001011\tten", "11\tn00001010\televen"; return l }), "wnid n00001010 does not follow n00001011"},
		{"empty name", edit(func(l []string) []string { l[2] = "2\tn00001002\ttwo, , deux"; return l }), `classes.tsv:3: empty name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := parse(tt.text)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(cs) != NumClasses || cs[3].Names[0] != "class 3" || cs[3].Names[1] != "other name" {
					t.Errorf("parsed %d classes, class 3 names %q", len(cs), cs[3].Names)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}
