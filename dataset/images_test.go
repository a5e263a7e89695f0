package dataset

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// numbered returns n images of c×h×w whose values all equal their index
// (not in [-1, 1], but easy to follow), labelled 10+index.
func numbered(n, c, h, w int) *Images {
	im := newImages(n, c, h, w)
	for i := range n {
		for k := range im.Image(i) {
			im.Image(i)[k] = float32(i)
		}
		im.Labels[i] = 10 + i
	}
	return im
}

// ids returns the index each image of im was made from by numbered.
func ids(im *Images) []int {
	var out []int
	for i := range im.N {
		out = append(out, int(im.Image(i)[0]))
	}
	return out
}

func TestImage(t *testing.T) {
	im := numbered(3, 2, 2, 2)
	img := im.Image(1)
	if len(img) != 8 || cap(img) != 8 {
		t.Fatalf("len, cap = %d, %d; want 8, 8", len(img), cap(img))
	}
	img[0] = 42
	if im.Data[8] != 42 {
		t.Error("Image does not share memory with Data")
	}
	_ = append(img, -7)
	if im.Data[16] != 2 {
		t.Error("appending to Image(1) overwrote image 2")
	}
}

func TestGatherSubset(t *testing.T) {
	im := numbered(5, 1, 2, 3)
	tests := []struct {
		name string
		idx  []int
	}{
		{"empty", nil},
		{"one", []int{3}},
		{"reordered", []int{4, 0, 2}},
		{"repeated", []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, labels := im.Gather(tt.idx)
			if len(data) != len(tt.idx)*6 || len(labels) != len(tt.idx) {
				t.Fatalf("Gather lengths %d, %d", len(data), len(labels))
			}
			sub := im.Subset(tt.idx)
			if sub.N != len(tt.idx) || sub.C != 1 || sub.H != 2 || sub.W != 3 {
				t.Fatalf("Subset shape %d×%d×%d×%d", sub.N, sub.C, sub.H, sub.W)
			}
			for k, i := range tt.idx {
				if labels[k] != 10+i || sub.Labels[k] != 10+i {
					t.Errorf("label %d = %d, %d; want %d", k, labels[k], sub.Labels[k], 10+i)
				}
				for _, v := range data[k*6 : (k+1)*6] {
					if v != float32(i) {
						t.Fatalf("Gather image %d holds %v, want %d", k, v, i)
					}
				}
			}
			if !slices.Equal(sub.Data, data) {
				t.Error("Subset and Gather disagree")
			}
		})
	}
	sub := im.Subset([]int{0})
	sub.Data[0] = 99
	if im.Data[0] == 99 {
		t.Error("Subset shares memory with its source")
	}
}

func TestSplit(t *testing.T) {
	im := numbered(20, 1, 1, 2)
	tests := []struct {
		heldOut, wantTest int
	}{
		{5, 5}, {0, 0}, {20, 20}, {-3, 0}, {25, 20},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("heldOut=%d", tt.heldOut), func(t *testing.T) {
			train, test := im.Split(tt.heldOut, 7)
			if test.N != tt.wantTest || train.N != 20-tt.wantTest {
				t.Fatalf("sizes train %d test %d, want %d %d", train.N, test.N, 20-tt.wantTest, tt.wantTest)
			}
			all := append(ids(train), ids(test)...)
			slices.Sort(all)
			for i, v := range all {
				if v != i {
					t.Fatalf("train ∪ test = %v, want 0..19 once each", all)
				}
			}
			for i := range train.N {
				if train.Labels[i] != 10+ids(train)[i] {
					t.Fatal("labels do not follow their images")
				}
			}
		})
	}
	a, b := im.Split(5, 7)
	c, d := im.Split(5, 7)
	if !slices.Equal(ids(a), ids(c)) || !slices.Equal(ids(b), ids(d)) {
		t.Error("same seed gave different splits")
	}
	if _, e := im.Split(5, 8); slices.Equal(ids(b), ids(e)) {
		t.Error("seeds 7 and 8 gave the same held-out set")
	}
	if slices.IsSorted(ids(a)) && slices.IsSorted(ids(b)) && ids(b)[0] == 0 {
		t.Error("Split did not shuffle")
	}
}

func TestConcat(t *testing.T) {
	a, b := numbered(2, 3, 2, 2), numbered(3, 3, 2, 2)
	got, err := Concat(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 5 || got.C != 3 || got.H != 2 || got.W != 2 || len(got.Data) != 5*12 {
		t.Fatalf("shape %d×%d×%d×%d, len %d", got.N, got.C, got.H, got.W, len(got.Data))
	}
	if want := []int{0, 1, 0, 1, 2}; !slices.Equal(ids(got), want) {
		t.Errorf("images %v, want %v", ids(got), want)
	}
	if want := []int{10, 11, 10, 11, 12}; !slices.Equal(got.Labels, want) {
		t.Errorf("labels %v, want %v", got.Labels, want)
	}

	errTests := []struct {
		name   string
		sets   []*Images
		errHas string
	}{
		{"none", nil, "no sets"},
		{"nil", []*Images{a, nil}, "set 1 is nil"},
		{"shape", []*Images{a, numbered(1, 1, 2, 2)}, "set 1 is 1×2×2, want 3×2×2"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Concat(tt.sets...)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Concat error %v, want one containing %q", err, tt.errHas)
			}
		})
	}
}
