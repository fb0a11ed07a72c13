// Go anchors for goweave's benchmarks.
//
// Run (from /work/main):
//
//	GO111MODULE=off go run benches/go/main.go            # all workloads
//	GO111MODULE=off go run benches/go/main.go -bench ring_1000_1m_hops -reps 3
//
// Every workload runs in its own child process (this program re-executes
// itself with -child), so that the memory measurement starts from a clean
// process, GOMAXPROCS can differ per run, and a crash in one workload is
// reported as `error=...` instead of ending the whole run.
//
// Output, one line per workload:
//
//	anchor=go bench=<name> median_ns_per_op=<f64> reps=<n> n=<ops per rep> [extra keys]
//	anchor=go bench=parked_1m bytes_per_goroutine=<f64> bytes_per_goroutine_with_pte=<f64> reps=<n> n=<goroutines>
//
// With -fresh N, every run is one cold repetition (no warm-up) in a process of
// its own, N runs per workload, as a user's program runs once:
//
//	anchor=go bench=<name> mode=fresh runs=<N> median_ns_per_op=<f64> worst_ns_per_op=<f64> best_ns_per_op=<f64> [max_delivery_ns=<worst over runs>]
//
// The default GOMAXPROCS is runtime.NumCPU() (2 on the reference machine).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type bench struct {
	name string
	n    int // operations per repetition (denominator of ns/op)
	reps int // default repetitions
	run  func(n int) time.Duration
}

var benches = []bench{
	{"spawn_join_1m", 1_000_000, 7, spawnJoin},
	{"parked_1m", 1_000_000, 3, nil}, // special: memory, one measurement per child process
	{"pingpong_unbuffered_1m", 1_000_000, 7, pingpong},
	{"ring_1000_1m_hops", 1_000_000, 7, ring},
	{"mpmc_4x4_cap1024_4m", 4_000_000, 7, mpmc},
	{"select4", 1_000_000, 7, select4},
	{"mutex_1000x1000", 1_000_000, 7, mutexContended},
	{"mutex_uncontended", 10_000_000, 7, mutexUncontended},
	{"fib20_fanout_100k", 100_000, 3, fibFanout},
	{"timer0_1m", 1_000_000, 7, timer0},
	{"select2_unbuffered_1m", 1_000_000, 7, select2},
}

// maxDelivery is the slowest single timer of the last timer0 run (ns).
var maxDelivery time.Duration

// ---------------------------------------------------------------- workloads

var sink []int

// spawn_join_1m: n goroutines, each does a trivial write into its own slot,
// joined with a WaitGroup.
func spawnJoin(n int) time.Duration {
	out := make([]int, n)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			out[i] = i + 1
			wg.Done()
		}(i)
	}
	wg.Wait()
	d := time.Since(start)
	sink = out
	return d
}

// pingpong_unbuffered_1m: main goroutine and one partner, two unbuffered
// channels, n round trips.
func pingpong(n int) time.Duration {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	d := time.Since(start)
	close(ping)
	<-pong
	return d
}

// ring_1000_1m_hops: 1000 goroutines in a ring of unbuffered channels; the
// token carries the number of hops left.
func ring(n int) time.Duration {
	const size = 1000
	chans := make([]chan int, size)
	for i := range chans {
		chans[i] = make(chan int)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(size)
	for i := 0; i < size; i++ {
		in, out := chans[i], chans[(i+1)%size]
		go func() {
			defer wg.Done()
			for v := range in {
				if v == 0 {
					close(done)
					continue
				}
				out <- v - 1
			}
		}()
	}
	start := time.Now()
	chans[0] <- n
	<-done
	d := time.Since(start)
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	return d
}

// mpmc_4x4_cap1024_4m: 4 producers, 4 consumers, one channel of capacity 1024.
func mpmc(n int) time.Duration {
	const p, c = 4, 4
	ch := make(chan int, 1024)
	var prod, cons sync.WaitGroup
	var total int64
	start := time.Now()
	prod.Add(p)
	cons.Add(c)
	for i := 0; i < p; i++ {
		go func() {
			defer prod.Done()
			for j := 0; j < n/p; j++ {
				ch <- j
			}
		}()
	}
	for i := 0; i < c; i++ {
		go func() {
			defer cons.Done()
			var s int64
			for v := range ch {
				s += int64(v)
			}
			atomic.AddInt64(&total, s)
		}()
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	return time.Since(start)
}

// select4: one receiver selecting over 4 unbuffered channels, each fed by
// its own sender; n messages in total.
func select4(n int) time.Duration {
	var cs [4]chan int
	for i := range cs {
		cs[i] = make(chan int)
	}
	start := time.Now()
	for i := 0; i < 4; i++ {
		c := cs[i]
		go func() {
			for j := 0; j < n/4; j++ {
				c <- j
			}
		}()
	}
	var s int
	for got := 0; got < n; got++ {
		select {
		case v := <-cs[0]:
			s += v
		case v := <-cs[1]:
			s += v
		case v := <-cs[2]:
			s += v
		case v := <-cs[3]:
			s += v
		}
	}
	d := time.Since(start)
	sink = []int{s}
	return d
}

// timer0_1m: time.NewTimer(0) and a receive from its channel, n times; also
// keeps the slowest single delivery in maxDelivery.
func timer0(n int) time.Duration {
	maxDelivery = 0
	start := time.Now()
	prev := start
	for i := 0; i < n; i++ {
		t := time.NewTimer(0)
		<-t.C
		now := time.Now()
		if d := now.Sub(prev); d > maxDelivery {
			maxDelivery = d
		}
		prev = now
	}
	return time.Since(start)
}

// select2_unbuffered_1m: a 2-case select receiving n unbuffered sends (the
// other case is never ready).
func select2(n int) time.Duration {
	a := make(chan int)
	quit := make(chan int)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			a <- i
		}
	}()
	var s int
	for got := 0; got < n; got++ {
		select {
		case v := <-a:
			s += v
		case <-quit:
			panic("nothing sends on quit")
		}
	}
	d := time.Since(start)
	sink = []int{s}
	return d
}

// mutex_1000x1000: 1000 goroutines, each 1000 lock/unlock of one sync.Mutex.
func mutexContended(n int) time.Duration {
	const g = 1000
	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(g)
	for i := 0; i < g; i++ {
		go func() {
			defer wg.Done()
			for j := 0; j < n/g; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if counter != n {
		panic("mutex counter mismatch")
	}
	return d
}

// guarded is a counter and the mutex that guards it, side by side in memory, as Go programs
// write it (and as goweave's Mutex<u64> holds its value).
type guarded struct {
	mu sync.Mutex
	n  int
}

var guardedSink *guarded

// mutex_uncontended: one goroutine, n lock/unlock, each incrementing the guarded counter. The
// counter lives in the struct, not in a local: a local `counter++` is kept in a register by
// Go's compiler (it even merges it with the loop index), so that loop stored nothing between
// the CAS of Lock and the XADD of Unlock, while goweave's row increments memory there.
func mutexUncontended(n int) time.Duration {
	c := &guarded{}
	guardedSink = c
	start := time.Now()
	for i := 0; i < n; i++ {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	d := time.Since(start)
	sink = []int{c.n}
	return d
}

//go:noinline
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// fib20_fanout_100k: n goroutines each computing fib(20), WaitGroup.
func fibFanout(n int) time.Duration {
	out := make([]int, n)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			out[i] = fib(20)
			wg.Done()
		}(i)
	}
	wg.Wait()
	d := time.Since(start)
	for _, v := range out {
		if v != 6765 {
			panic("fib")
		}
	}
	return d
}

// parked_1m: n goroutines all blocked receiving on one shared unbuffered
// channel. RSS (VmRSS) and page-table (VmPTE) growth divided by n.
func parked(n int) (perG, perGWithPTE float64) {
	runtime.GC()
	rss0, pte0 := procStatus()
	ch := make(chan struct{})
	var started sync.WaitGroup
	var exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	// Let the last goroutines reach the channel receive.
	for {
		time.Sleep(20 * time.Millisecond)
		if runtime.NumGoroutine() >= n {
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
	rss1, pte1 := procStatus()
	close(ch)
	exited.Wait()
	perG = float64(rss1-rss0) * 1024 / float64(n)
	perGWithPTE = float64((rss1+pte1)-(rss0+pte0)) * 1024 / float64(n)
	return
}

// procStatus returns VmRSS and VmPTE in kB.
func procStatus() (rss, pte int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v
		case "VmPTE:":
			pte = v
		}
	}
	return
}

// ---------------------------------------------------------------- driver

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// child runs one workload `reps` times in this process and prints
// `ns=<v>` per repetition (or `bytes=<a> bytes_pte=<b>` for parked_1m).
func child(name string, reps, n int, cold bool) {
	if name == "parked_1m" {
		a, b := parked(n)
		fmt.Printf("bytes=%.1f bytes_pte=%.1f\n", a, b)
		return
	}
	for _, b := range benches {
		if b.name != name {
			continue
		}
		if !cold {
			b.run(n / 10) // warm-up at a tenth of the size
			runtime.GC()
		}
		for r := 0; r < reps; r++ {
			cpu0 := cpuTime()
			d := b.run(n)
			cpu := cpuTime() - cpu0
			fmt.Printf("ns=%.3f cpu_ns=%.3f max_delivery_ns=%d\n", float64(d.Nanoseconds())/float64(n),
				float64(cpu.Nanoseconds())/float64(n), maxDelivery.Nanoseconds())
			runtime.GC()
		}
		return
	}
	fmt.Fprintf(os.Stderr, "unknown bench %q\n", name)
	os.Exit(2)
}

// cpuTime is the user plus system CPU time of this process so far (every
// thread, the GC's included).
func cpuTime() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// runChild re-executes this program for one workload and returns the
// key=value lines it printed.
func runChild(name string, reps, n, procs int, timeout time.Duration, cold ...bool) ([]map[string]float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-child", name, "-reps", strconv.Itoa(reps), "-n", strconv.Itoa(n)}
	if len(cold) > 0 && cold[0] {
		args = append(args, "-cold")
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	timer := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("%v: %s", err, msg)
	}
	var rows []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		row := map[string]float64{}
		for _, kv := range strings.Fields(line) {
			if p := strings.SplitN(kv, "=", 2); len(p) == 2 {
				v, _ := strconv.ParseFloat(p[1], 64)
				row[p[0]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func token(err error) string {
	return strings.Join(strings.Fields(err.Error()), "_")
}

func column(rows []map[string]float64, key string) []float64 {
	var xs []float64
	for _, r := range rows {
		if v, ok := r[key]; ok {
			xs = append(xs, v)
		}
	}
	return xs
}

func main() {
	childName := flag.String("child", "", "internal: run one workload in this process")
	only := flag.String("bench", "", "comma-separated workloads to run (default: all)")
	repsFlag := flag.Int("reps", 0, "repetitions (default: per workload, 7; 3 for fib and parked)")
	nFlag := flag.Int("n", 0, "internal/override: operations per repetition")
	procs := flag.Int("procs", runtime.NumCPU(), "GOMAXPROCS for the workloads")
	timeout := flag.Duration("timeout", 120*time.Second, "per child process")
	fresh := flag.Int("fresh", 0, "N cold one-shot runs per workload, each in a fresh process: median and worst")
	cold := flag.Bool("cold", false, "internal: no warm-up repetition")
	flag.Parse()

	if *childName != "" {
		debug.SetGCPercent(100)
		child(*childName, *repsFlag, *nFlag, *cold)
		return
	}

	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	for _, b := range benches {
		if len(want) > 0 && !want[b.name] {
			continue
		}
		reps := b.reps
		if *repsFlag > 0 {
			reps = *repsFlag
		}
		n := b.n
		if *nFlag > 0 {
			n = *nFlag
		}
		prefix := fmt.Sprintf("anchor=go bench=%s", b.name)
		if *fresh > 0 {
			if b.name == "parked_1m" || b.name == "fib20_fanout_100k" {
				continue
			}
			var xs, cpus []float64
			var worstDelivery float64
			var failed error
			for r := 0; r < *fresh; r++ {
				rows, err := runChild(b.name, 1, n, *procs, *timeout, true)
				if err != nil {
					failed = err
					break
				}
				xs = append(xs, column(rows, "ns")...)
				cpus = append(cpus, column(rows, "cpu_ns")...)
				for _, d := range column(rows, "max_delivery_ns") {
					if d > worstDelivery {
						worstDelivery = d
					}
				}
			}
			if failed != nil {
				fmt.Printf("%s mode=fresh error=%s n=%d\n", prefix, token(failed), n)
				continue
			}
			sort.Float64s(xs)
			extra := ""
			if b.name == "timer0_1m" {
				extra = fmt.Sprintf(" max_delivery_ns=%.0f", worstDelivery)
			}
			fmt.Printf("%s mode=fresh runs=%d median_ns_per_op=%.3f worst_ns_per_op=%.3f best_ns_per_op=%.3f median_cpu_ns_per_op=%.3f n=%d workers=%d%s\n",
				prefix, len(xs), median(xs), xs[len(xs)-1], xs[0], median(cpus), n, *procs, extra)
			continue
		}
		switch b.name {
		case "parked_1m":
			var a, p []float64
			var failed error
			for r := 0; r < reps; r++ {
				rows, err := runChild(b.name, 1, n, *procs, *timeout)
				if err != nil {
					failed = err
					break
				}
				a = append(a, column(rows, "bytes")...)
				p = append(p, column(rows, "bytes_pte")...)
			}
			if failed != nil {
				fmt.Printf("%s error=%s n=%d\n", prefix, token(failed), n)
				continue
			}
			fmt.Printf("%s bytes_per_goroutine=%.1f bytes_per_goroutine_with_pte=%.1f reps=%d n=%d\n",
				prefix, median(a), median(p), reps, n)
		case "fib20_fanout_100k":
			rows, err := runChild(b.name, reps, n, *procs, *timeout)
			if err != nil {
				fmt.Printf("%s error=%s n=%d\n", prefix, token(err), n)
				continue
			}
			rows1, err := runChild(b.name, reps, n, 1, *timeout)
			if err != nil {
				fmt.Printf("%s error=%s n=%d\n", prefix, token(err), n)
				continue
			}
			m, m1 := median(column(rows, "ns")), median(column(rows1, "ns"))
			fmt.Printf("%s median_ns_per_op=%.3f reps=%d n=%d workers=%d speedup_vs_1_worker=%.3f one_worker_median_ns_per_op=%.3f\n",
				prefix, m, reps, n, *procs, m1/m, m1)
		default:
			rows, err := runChild(b.name, reps, n, *procs, *timeout)
			if err != nil {
				fmt.Printf("%s error=%s n=%d\n", prefix, token(err), n)
				continue
			}
			fmt.Printf("%s median_ns_per_op=%.3f reps=%d n=%d workers=%d\n",
				prefix, median(column(rows, "ns")), reps, n, *procs)
		}
	}
}
