package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"ganshift/biggan"
	"ganshift/imagenet"
)

// classTable is what --classes can name: each class's aliases, matched
// without regard to case.
type classTable struct {
	n       int
	labels  []string   // per class: its names as written ("tabby, tabby cat"); nil if unnamed
	aliases [][]string // per class: lower-case names, and the wnid for ImageNet
}

// classesOf returns the class table of a model: its own class names when
// its config has them, else ImageNet's for a 1000-class model, else
// unnamed classes, which --classes can give by index only.
func classesOf(cfg biggan.Config) classTable {
	t := classTable{n: cfg.NClasses}
	switch {
	case len(cfg.ClassNames) == cfg.NClasses && cfg.NClasses > 0:
		t.labels = cfg.ClassNames
		for _, l := range cfg.ClassNames {
			t.aliases = append(t.aliases, splitNames(l))
		}
	case cfg.NClasses == imagenet.NumClasses:
		for _, c := range imagenet.Classes() {
			t.labels = append(t.labels, c.Label())
			t.aliases = append(t.aliases, append(splitNames(c.Label()), c.WNID))
		}
	}
	return t
}

// splitNames splits a comma-separated list of names into its lower-case,
// trimmed, non-empty parts.
func splitNames(s string) []string {
	var out []string
	for n := range strings.SplitSeq(s, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// named reports whether the classes have names that say more than their
// indices (the MNIST model's "0".."9" do not).
func (t classTable) named() bool {
	for i, l := range t.labels {
		if l != strconv.Itoa(i) {
			return true
		}
	}
	return false
}

// short is the first name of class c, or "" if the classes are unnamed.
func (t classTable) short(c int) string {
	if t.labels == nil {
		return ""
	}
	name, _, _ := strings.Cut(t.labels[c], ",")
	return strings.TrimSpace(name)
}

// describe is "281 (tabby, tabby cat)", or "281" for an unnamed class.
func (t classTable) describe(c int) string {
	if t.labels == nil {
		return strconv.Itoa(c)
	}
	return fmt.Sprintf("%d (%s)", c, t.labels[c])
}

// parseClasses reads a comma-separated --classes list of class indices
// and names; empty means every class. A name matches any of a class's
// names without regard to case ("tabby cat" is class 281 of ImageNet); a
// name that several classes share, or none has, is an error that lists the
// candidates.
func parseClasses(s string, t classTable) ([]int, error) {
	var out []int
	for tok := range strings.SplitSeq(s, ",") {
		if tok = strings.TrimSpace(tok); tok == "" {
			continue
		}
		c, err := t.lookup(tok)
		if err != nil {
			return nil, fmt.Errorf("--classes: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		for c := range t.n {
			out = append(out, c)
		}
	}
	return out, nil
}

// lookup resolves one class index or name.
func (t classTable) lookup(tok string) (int, error) {
	if c, err := strconv.Atoi(tok); err == nil {
		if c < 0 || c >= t.n {
			return 0, fmt.Errorf("class %d outside 0..%d", c, t.n-1)
		}
		return c, nil
	}
	if t.aliases == nil {
		return 0, fmt.Errorf("%q is not a class index, and the model's %d classes have no names", tok, t.n)
	}
	key := strings.ToLower(tok)
	var hits []int
	for c, names := range t.aliases {
		if slices.Contains(names, key) {
			hits = append(hits, c)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		close := t.closeTo(key, 8)
		if len(close) == 0 {
			return 0, fmt.Errorf("no class is named %q (list them with ganshift classes)", tok)
		}
		return 0, fmt.Errorf("no class is named %q; close: %s", tok, t.list(close))
	default:
		return 0, fmt.Errorf("%q names %d classes: %s; give the index", tok, len(hits), t.list(hits))
	}
}

func (t classTable) list(cs []int) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = t.describe(c)
	}
	return strings.Join(parts, ", ")
}

// closeTo returns up to max classes with a name near key: names that
// contain key or that key contains first, then names within a few edits,
// nearest first.
func (t classTable) closeTo(key string, max int) []int {
	type cand struct{ c, rank int }
	var cands []cand
	limit := 2 + len(key)/4
	for c, names := range t.aliases {
		best := -1
		for _, n := range names {
			r := -1
			switch {
			case strings.Contains(n, key) || (len(n) >= 3 && strings.Contains(key, n)):
				r = 0
			default:
				if d := editDistance(key, n); d <= limit {
					r = d
				}
			}
			if r >= 0 && (best < 0 || r < best) {
				best = r
			}
		}
		if best >= 0 {
			cands = append(cands, cand{c, best})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return a.rank - b.rank })
	var out []int
	for _, cd := range cands[:min(max, len(cands))] {
		out = append(out, cd.c)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

type classesOptions struct {
	model    string
	g        string
	imagenet bool
}

func newClassesCmd() *cobra.Command {
	o := &classesOptions{}
	cmd := &cobra.Command{
		Use:   "classes [NAME...]",
		Short: "List a model's classes, or find classes by name",
		Long: `Print "index<TAB>names" for each class of a model, or only for the classes
whose names contain one of the given words (without regard to case). These
are the names --classes takes, besides indices.

A model's classes are named by its model.json (the embedded MNIST model's
are "0" to "9"). A 1000-class model without names, such as the released
ImageNet BigGAN read from .pth files, gets ImageNet's (ILSVRC-2012) class
names; --imagenet lists those without loading a model.`,
		Example: `  ganshift classes --imagenet retriever
  ganshift classes --g G_ema.pth "tabby cat"
  ganshift sample --g G_ema.pth --classes "goldfish,207,tabby cat" --out samples`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "default", "model, run or snapshot whose classes to list")
	f.StringVar(&o.g, "g", "", "a generator weight file (.pth or .safetensors) whose classes to list")
	f.BoolVar(&o.imagenet, "imagenet", false, "list ImageNet's 1000 classes without loading a model")
	return cmd
}

func (o *classesOptions) run(words []string) error {
	var t classTable
	if o.imagenet {
		t = classesOf(biggan.Config{NClasses: imagenet.NumClasses})
	} else {
		src := o.model
		if o.g != "" {
			src = o.g
		}
		gs, err := loadGenerator(src, "G_ema")
		if err != nil {
			return err
		}
		t = classesOf(gs.g.Cfg)
		gs.free()
	}
	if t.labels == nil {
		if len(words) > 0 {
			return fmt.Errorf("classes: the model's %d classes have no names", t.n)
		}
		for c := range t.n {
			fmt.Println(c)
		}
		return nil
	}
	found := false
	for c, label := range t.labels {
		if len(words) > 0 && !matchesAny(strings.ToLower(label), words) {
			continue
		}
		found = true
		fmt.Printf("%d\t%s\n", c, label)
	}
	if !found {
		return fmt.Errorf("classes: no class name contains %s", quoteAll(words))
	}
	return nil
}

func matchesAny(label string, words []string) bool {
	for _, w := range words {
		if strings.Contains(label, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

func quoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, " or ")
}
