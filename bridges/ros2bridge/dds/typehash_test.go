package dds

import (
	"bytes"
	"strings"
	"testing"
)

const (
	hashA = "RIHS01_9c45bf16fe0983d80e3cfe750d6835843d265a9a6c46bd2e609fcddde6fb8d2a"
	hashB = "RIHS01_5f0fcd4f81d5d06ad9b4c4c63e3ea51b82d6ae4d0558f1d475229b1121db6f64"
)

func TestParseTypeHash(t *testing.T) {
	for name, tc := range map[string]struct {
		in    string
		hash  string
		found bool
		bad   bool
	}{
		"none (Humble)":                  {in: ""},
		"rmw form":                       {in: "typehash=" + hashA + ";", hash: hashA, found: true},
		"without final ;":                {in: "typehash=" + hashA, hash: hashA, found: true},
		"among other keys":               {in: "enclave=/;typehash=" + hashA + ";x=y;", hash: hashA, found: true},
		"other keys only":                {in: "enclave=/;", found: false},
		"item without =":                 {in: "junk;typehash=" + hashA + ";", hash: hashA, found: true},
		"binary, no key":                 {in: "\x00\xff\x01", found: false},
		"empty value":                    {in: "typehash=;", bad: true},
		"uppercase hex":                  {in: "typehash=" + strings.ToUpper(hashA[:7]) + strings.ToUpper(hashA[7:]) + ";", bad: true},
		"other version":                  {in: "typehash=RIHS02_" + hashA[7:] + ";", bad: true},
		"short":                          {in: "typehash=" + hashA[:70] + ";", bad: true},
		"twice":                          {in: "typehash=" + hashA + ";typehash=" + hashA + ";", bad: true},
		"twice, differing":               {in: "typehash=" + hashA + ";typehash=" + hashB + ";", bad: true},
		"key with spaces is another key": {in: " typehash=x;", found: false},
		"too long":                       {in: "typehash=" + hashA + ";" + strings.Repeat("a", MaxUserDataBytes), bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			h, found, err := ParseTypeHash([]byte(tc.in))
			if (err != nil) != tc.bad || h != tc.hash || found != tc.found {
				t.Fatalf("ParseTypeHash(%q) = %q, %v, %v", tc.in, h, found, err)
			}
		})
	}
}

func TestCheckPeers(t *testing.T) {
	peers := []Peer{
		{Handle: 1, UserData: TypeHashUserData(hashA)},
		{Handle: 2}, // Humble: accepted
		{Handle: 3, UserData: TypeHashUserData(hashB)},     // another definition
		{Handle: 4, UserData: []byte("typehash=garbage;")}, // unreadable: a mismatch
		{Handle: 5, UserData: []byte("enclave=/;")},        // no type hash: accepted
	}
	c := CheckPeers(hashA, peers)
	if c.Matched != 5 || c.Accepted != 3 || len(c.Mismatched) != 2 {
		t.Fatalf("%+v", c)
	}
	if c.Mismatched[0].Handle != 3 || c.Mismatched[0].Theirs != hashB || c.Mismatched[1].Handle != 4 {
		t.Fatalf("%+v", c.Mismatched)
	}
	if c := CheckPeers("", peers); c.Accepted != 5 || c.Mismatched != nil {
		t.Fatalf("no own hash: %+v", c)
	}
	if !bytes.Equal(TypeHashUserData(hashA), []byte("typehash="+hashA+";")) {
		t.Fatal(string(TypeHashUserData(hashA)))
	}
	if err := (QoS{TypeHash: "RIHS01_x"}).check(); err == nil {
		t.Fatal("a malformed own type hash was accepted")
	}
}

// FuzzParseTypeHash: no panic; a hash found is a valid RIHS01 hash and the
// USER_DATA contains "typehash=<hash>"; an encoded hash parses back.
func FuzzParseTypeHash(f *testing.F) {
	f.Add([]byte("typehash=" + hashA + ";"))
	f.Add([]byte("enclave=/;typehash=" + hashB))
	f.Add([]byte("typehash=;typehash="))
	f.Add([]byte{0, ';', '='})
	f.Fuzz(func(t *testing.T, ud []byte) {
		h, found, err := ParseTypeHash(ud)
		if err != nil && (found || h != "") {
			t.Fatalf("error with a result: %q %v", h, found)
		}
		if found && (!ValidTypeHash(h) || !bytes.Contains(ud, []byte("typehash="+h))) {
			t.Fatalf("found %q in %q", h, ud)
		}
		if !found && h != "" {
			t.Fatalf("hash %q not found", h)
		}
		if ValidTypeHash(string(ud)) {
			if h2, ok, err := ParseTypeHash(TypeHashUserData(string(ud))); err != nil || !ok || h2 != string(ud) {
				t.Fatalf("round trip %q: %q %v %v", ud, h2, ok, err)
			}
		}
	})
}
