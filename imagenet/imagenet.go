// Package imagenet holds the names of the 1,000 classes of the ImageNet
// ILSVRC-2012 classification task, in the index order that models trained
// on it (BigGAN, torchvision's ResNets) use: the WordNet ids sorted.
//
// The list is embedded from classes.tsv, one line per class:
// "index<TAB>wnid<TAB>names", where names are the synset's comma-separated
// lemmas, the usual one first ("tabby, tabby cat"). The names are those of
// the ILSVRC-2012 synset list as published with the data set (the
// LOC_synset_mapping.txt of its localisation release), with the wnid
// order giving the index.
package imagenet

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// NumClasses is the number of ILSVRC-2012 classes.
const NumClasses = 1000

// Class is one ILSVRC-2012 class.
type Class struct {
	Index int
	WNID  string   // WordNet synset id, such as "n02123045"
	Names []string // the synset's names, the usual one first: "tabby", "tabby cat"
}

// Label is the class's names as the synset lists them: "tabby, tabby cat".
func (c Class) Label() string { return strings.Join(c.Names, ", ") }

//go:embed classes.tsv
var classesTSV string

var classes = sync.OnceValue(func() []Class {
	cs, err := parse(classesTSV)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return cs
})

// Classes returns the 1,000 classes in index order. The slice is shared:
// callers must not modify it.
func Classes() []Class { return classes() }

// Labels returns every class's Label, in index order.
func Labels() []string {
	cs := classes()
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Label()
	}
	return out
}

// parse reads the lines of classes.tsv: exactly NumClasses of them,
// numbered 0 to NumClasses-1 in order, with wnids in increasing order.
func parse(text string) ([]Class, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != NumClasses {
		return nil, fmt.Errorf("imagenet: classes.tsv: %d lines, want %d", len(lines), NumClasses)
	}
	out := make([]Class, 0, NumClasses)
	for i, line := range lines {
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("imagenet: classes.tsv:%d: %d tab-separated fields, want 3 (index, wnid, names)", i+1, len(fields))
		}
		idx, err := strconv.Atoi(fields[0])
		if err != nil || idx != i {
			return nil, fmt.Errorf("imagenet: classes.tsv:%d: index %q, want %d", i+1, fields[0], i)
		}
		wnid := fields[1]
		if !validWNID(wnid) {
			return nil, fmt.Errorf("imagenet: classes.tsv:%d: %q is not a WordNet noun id (n and 8 digits)", i+1, wnid)
		}
		if i > 0 && wnid <= out[i-1].WNID {
			return nil, fmt.Errorf("imagenet: classes.tsv:%d: wnid %s does not follow %s: the classes are not in index order", i+1, wnid, out[i-1].WNID)
		}
		var names []string
		for n := range strings.SplitSeq(fields[2], ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				return nil, fmt.Errorf("imagenet: classes.tsv:%d: empty name in %q", i+1, fields[2])
			}
			names = append(names, n)
		}
		out = append(out, Class{Index: i, WNID: wnid, Names: names})
	}
	return out, nil
}

func validWNID(s string) bool {
	if len(s) != 9 || s[0] != 'n' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
