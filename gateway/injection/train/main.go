// Command train fits the injection scanner's classifier (package clf) on
// the training sets of eval/injection and writes gateway/injection/model.bin;
// with -cv it reports a k-fold cross-validation instead (docs/injection.md
// §8).
//
//	go run ./gateway/injection/train            # writes the model
//	go run ./gateway/injection/train -cv        # cross-validation report (one set held out at a time)
//
// Training sets: tuning.jsonl, dev*.jsonl, train*.jsonl, the scanner's
// corpus (testdata/corpus.jsonl) and the spent
// held-out set v1 (heldout.jsonl). Any later held-out version
// (heldout-v2.jsonl, …) is never read: the file list is an allow-list.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/sintgate/sintgate/gateway/injection"
	"github.com/sintgate/sintgate/gateway/injection/clf"
)

func main() {
	dir := flag.String("dir", "eval/injection", "directory of the sets")
	out := flag.String("out", "gateway/injection/model.bin", "model file to write")
	corpus := flag.String("corpus", "gateway/injection/testdata/corpus.jsonl", "the scanner's own corpus (trained on too)")
	cv := flag.Bool("cv", false, "report a k-fold cross-validation instead of writing the model")
	byID := flag.Bool("idfolds", false, "k folds by a hash of the item id instead of one set (id prefix) held out at a time")
	k := flag.Int("k", 5, "folds")
	maxFP := flag.Float64("maxfp", clf.DefaultMaxFP, "false-positive rate the threshold is chosen for (cross-validated)")
	bits := flag.Int("bits", int(clf.DefaultConfig.Bits), "log2 hash space")
	minN := flag.Int("minn", int(clf.DefaultConfig.MinN), "shortest byte n-gram")
	maxN := flag.Int("maxn", int(clf.DefaultConfig.MaxN), "longest byte n-gram (0 = none)")
	words := flag.Bool("words", clf.DefaultConfig.Words, "word unigrams")
	bigrams := flag.Bool("bigrams", clf.DefaultConfig.Bigrams, "word bigrams")
	other := flag.Bool("other", clf.DefaultConfig.NGramsOther, "byte n-grams only at non-ASCII bytes")
	epochs := flag.Int("epochs", clf.DefaultParams.Epochs, "epochs")
	rate := flag.Float64("rate", clf.DefaultParams.Rate, "AdaGrad rate")
	l2 := flag.Float64("l2", clf.DefaultParams.L2, "L2")
	bw := flag.Float64("bw", clf.DefaultParams.BenignWeigh, "benign loss weight")
	veto := flag.Float64("veto", float64(clf.DefaultVeto), "rule veto: a natural-language rule finding in a string scoring below this is not reported")
	flag.Parse()
	cfg := clf.DefaultConfig
	cfg.Bits, cfg.MinN, cfg.MaxN, cfg.Words, cfg.Bigrams, cfg.NGramsOther = uint8(*bits), uint8(*minN), uint8(*maxN), *words, *bigrams, *other
	p := clf.DefaultParams
	p.Epochs, p.Rate, p.L2, p.BenignWeigh = *epochs, *rate, *l2, *bw

	items, err := clf.LoadTraining(*dir, injection.ClassifierInput, *corpus)
	if err != nil {
		log.Fatal(err)
	}
	if *cv {
		r := crossValidate(cfg, p, items, *byID, *k)
		th := r.Threshold(*maxFP)
		fmt.Printf("%d items, %d folds, config %+v, params %+v\n", len(items), *k, cfg, p)
		r.Report(os.Stdout, th)
		return
	}
	// The threshold is the cross-validated one (scores of models that did
	// not see the item's set), then the model is fitted on everything.
	r := crossValidate(cfg, p, items, *byID, *k)
	m := clf.Train(cfg, p, clf.Examples(items))
	m.Threshold = r.Threshold(*maxFP)
	m.Veto = float32(*veto)
	if err := os.WriteFile(*out, m.Marshal(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s: %d items, threshold %.4f (CV: %s)\n", *out, len(items), m.Threshold, r.Total(m.Threshold))
}

// crossValidate holds out one set at a time (clf.CrossValidateSets), or
// with byID k folds by id.
func crossValidate(cfg clf.Config, p clf.TrainParams, items []clf.Item, byID bool, k int) clf.CV {
	if byID {
		return clf.CrossValidate(cfg, p, items, k, injection.Classifiable)
	}
	return clf.CrossValidateSets(cfg, p, items, injection.Classifiable)
}
