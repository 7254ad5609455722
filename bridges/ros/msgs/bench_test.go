package msgs

import "testing"

func benchTrajectory() *JointTrajectory {
	jt := &JointTrajectory{Header: hdr, JointNames: []string{"j1", "j2", "j3", "j4", "j5", "j6"}}
	for i := 0; i < 10; i++ {
		jt.Points = append(jt.Points, JointTrajectoryPoint{
			Positions: make([]float64, 6), Velocities: make([]float64, 6), TimeFromStart: Duration{int32(i), 0}})
	}
	return jt
}

func BenchmarkEncodeTwist(b *testing.B) {
	m := &Twist{Linear: Vector3{1, 2, 3}, Angular: Vector3{4, 5, 6}}
	w := NewWriter(make([]byte, 0, 64))
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		m.Marshal(w)
	}
}

func BenchmarkDecodeTwist(b *testing.B) {
	in := Encode(&Twist{Linear: Vector3{1, 2, 3}, Angular: Vector3{4, 5, 6}})
	var m Twist
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
}

// The trajectory benchmarks use 6 joints × 10 points (positions and
// velocities set): 1,126 bytes encoded.
func BenchmarkEncodeJointTrajectory(b *testing.B) {
	m := benchTrajectory()
	w := NewWriter(make([]byte, 0, 2048))
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		m.Marshal(w)
	}
	b.SetBytes(int64(len(w.Bytes())))
}

func BenchmarkDecodeJointTrajectory(b *testing.B) {
	in := Encode(benchTrajectory())
	var m JointTrajectory
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := m.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
}
