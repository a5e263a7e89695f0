package main

import (
	"image"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/biggan"
)

// saveModelCfg writes a small model directory of architecture cfg.
func saveModelCfg(t *testing.T, dir string, cfg biggan.Config) {
	t.Helper()
	g, err := biggan.NewGenerator(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	d, err := biggan.NewDiscriminator(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	if err := biggan.SaveDir(dir, &biggan.Model{Cfg: g.Cfg, G: g, D: d}); err != nil {
		t.Fatal(err)
	}
}

func TestParseClasses(t *testing.T) {
	withNames := func(n int, names ...string) biggan.Config {
		c := smallCfg
		c.NClasses, c.ClassNames = n, names
		return c
	}
	imagenet := withNames(1000)
	mnist := withNames(10, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
	pets := withNames(3, "cat, house cat", "Dog", "crane")
	// A 1000-class model whose own names take precedence over ImageNet's.
	own := make([]string, 1000)
	for i := range own {
		own[i] = "thing " + strings.Repeat("x", i%7) + string(rune('a'+i%26))
	}
	own[281] = "tabby cat"
	own[1] = "not a goldfish"

	tests := []struct {
		name string
		cfg  biggan.Config
		in   string
		want []int
		err  []string
	}{
		{"indices", smallCfg, "2, 0,,1", []int{2, 0, 1}, nil},
		{"empty means all", smallCfg, "", []int{0, 1, 2}, nil},
		{"imagenet names and indices", imagenet, "goldfish,207,tabby cat", []int{1, 207, 281}, nil},
		{"imagenet any case, any synonym", imagenet, "TABBY, Tabby Cat,Carassius auratus,  golden retriever ", []int{281, 281, 1, 207}, nil},
		{"imagenet wnid", imagenet, "n02123045", []int{281}, nil},
		{"imagenet last class", imagenet, "toilet paper,999", []int{999, 999}, nil},
		{"mnist names are indices", mnist, "3,8", []int{3, 8}, nil},
		{"model names", pets, "house cat,dog,CRANE", []int{0, 1, 2}, nil},
		{"own names before imagenet's", withNames(1000, own...), "tabby cat", []int{281}, nil},

		{"index out of range", smallCfg, "0,3", nil, []string{"--classes", "class 3 outside 0..2"}},
		{"negative index", imagenet, "-1", nil, []string{"class -1 outside 0..999"}},
		{"name for unnamed classes", smallCfg, "0,one", nil, []string{"--classes", `"one"`, "have no names"}},
		{"ambiguous crane", imagenet, "crane", nil, []string{`"crane" names 2 classes`, "134 (crane)", "517 (crane)", "give the index"}},
		{"ambiguous across case", imagenet, "cardigan", nil, []string{"264 (Cardigan, Cardigan Welsh corgi)", "474 (cardigan)"}},
		{"typo", imagenet, "tabby kat", nil, []string{`no class is named "tabby kat"`, "close:", "281 (tabby, tabby cat)"}},
		{"part of a name", imagenet, "retriever", nil, []string{`"retriever"`, "207 (golden retriever)", "208 (Labrador retriever)"}},
		{"nothing close", imagenet, "qwzxv", nil, []string{`no class is named "qwzxv"`, "ganshift classes"}},
		{"own names hide imagenet's", withNames(1000, own...), "goldfish", nil, []string{`"goldfish"`, "1 (not a goldfish)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClasses(tt.in, classesOf(tt.cfg))
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("parseClasses(%q) = %v, want %v", tt.in, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseClasses(%q) = %v, want an error", tt.in, got)
			}
			for _, w := range tt.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"tabby", "tabby", 0},
		{"tabby kat", "tabby cat", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClassNamesInCommands(t *testing.T) {
	dir := t.TempDir()
	imagenetModel := filepath.Join(dir, "inet")
	cfg := smallCfg
	cfg.NClasses = 1000
	saveModelCfg(t, imagenetModel, cfg)
	petModel := filepath.Join(dir, "pets")
	cfg = smallCfg
	cfg.ClassNames = []string{"cat, house cat", "dog", "bird"}
	saveModelCfg(t, petModel, cfg)

	t.Run("sample by imagenet names, labelled rows", func(t *testing.T) {
		out := filepath.Join(dir, "s1")
		if _, err := ganshift(t, "sample", "--model", imagenetModel, "--classes", "goldfish,tabby cat", "--n", "2", "--each", "--out", out); err != nil {
			t.Fatal(err)
		}
		want := []string{"1_0.png", "1_1.png", "281_0.png", "281_1.png", "grid.png"}
		if got := listDir(t, out); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", out, got, want)
		}
		grid := decodePNG(t, filepath.Join(out, "grid.png"))
		w, h := gridSize(2, 2)
		// "1 goldfish" is the widest label: 10 characters of 7 px, 4 px each side.
		margin := 10*7 + 8
		if b := grid.Bounds(); b.Dx() != w+margin || b.Dy() != h {
			t.Errorf("grid.png is %dx%d, want %dx%d (a %d px label margin)", b.Dx(), b.Dy(), w+margin, h, margin)
		}
		if _, err := ganshift(t, "sample", "--model", imagenetModel, "--classes", "1,281", "--n", "2", "--out", filepath.Join(dir, "s1-idx")); err != nil {
			t.Fatal(err)
		}
		if !sameImage(grid, image.Pt(0, 0), decodePNG(t, filepath.Join(dir, "s1-idx", "grid.png"))) {
			t.Error("sampling by names and by indices drew different grids")
		}
		// The margin holds dark label pixels; unnamed models get none.
		dark := 0
		for y := range h {
			for x := range margin {
				if r, _, _, _ := grid.At(x, y).RGBA(); r < 0x8000 {
					dark++
				}
			}
		}
		if dark == 0 {
			t.Error("the label margin is blank")
		}
	})

	t.Run("sample by model names", func(t *testing.T) {
		out := filepath.Join(dir, "s2")
		if _, err := ganshift(t, "sample", "--model", petModel, "--classes", "Bird,house cat", "--n", "1", "--each", "--out", out); err != nil {
			t.Fatal(err)
		}
		if got, want := listDir(t, out), []string{"0_0.png", "2_0.png", "grid.png"}; !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", out, got, want)
		}
	})

	t.Run("unnamed model: no labels", func(t *testing.T) {
		out := filepath.Join(dir, "s3")
		if _, err := ganshift(t, "sample", "--model", fixtures(t).model, "--classes", "0,1", "--n", "3", "--out", out); err != nil {
			t.Fatal(err)
		}
		w, h := gridSize(3, 2)
		if b := decodePNG(t, filepath.Join(out, "grid.png")).Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("grid.png is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
		}
	})

	tests := []struct {
		name string
		args []string
		want []string // lines of stdout, in order
		err  string
	}{
		{"imagenet search", []string{"classes", "--imagenet", "retriever"}, []string{
			"205\tflat-coated retriever", "206\tcurly-coated retriever", "207\tgolden retriever",
			"208\tLabrador retriever", "209\tChesapeake Bay retriever"}, ""},
		{"two words", []string{"classes", "--imagenet", "TABBY", "goldfish"}, []string{
			"1\tgoldfish, Carassius auratus", "281\ttabby, tabby cat"}, ""},
		{"1000-class model", []string{"classes", "--g", filepath.Join(imagenetModel, "G.safetensors"), "toilet"}, []string{
			"861\ttoilet seat", "999\ttoilet tissue, toilet paper, bathroom tissue"}, ""},
		{"named model", []string{"classes", "--model", petModel}, []string{"0\tcat, house cat", "1\tdog", "2\tbird"}, ""},
		{"default model", []string{"classes"}, []string{"0\t0", "1\t1", "2\t2", "3\t3", "4\t4", "5\t5", "6\t6", "7\t7", "8\t8", "9\t9"}, ""},
		{"unnamed model", []string{"classes", "--model", fixtures(t).model}, []string{"0", "1", "2"}, ""},
		{"unnamed model, search", []string{"classes", "--model", fixtures(t).model, "cat"}, nil, "have no names"},
		{"no match", []string{"classes", "--imagenet", "spaceship"}, nil, `no class name contains "spaceship"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, err := ganshift(t, tt.args...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("stdout lines %q, want %q", got, tt.want)
			}
		})
	}
}
