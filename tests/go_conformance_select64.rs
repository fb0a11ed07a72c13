//! Issue 17 item 11: a `select!` with 64 cases, the most the macro accepts, compiles under the
//! default `recursion_limit` (this file sets none) and picks the one ready case, on both
//! executors.

mod common;

use common::on_both;
use goweave::chan::{self, Chan};
use goweave::select;

/// Select over 63 receive cases and one send case.
fn select64(cs: &[Chan<usize>], out: &Chan<usize>) -> (usize, usize) {
    select! {
            recv(cs[0]) -> v => (0, v.unwrap()),
            recv(cs[1]) -> v => (1, v.unwrap()),
            recv(cs[2]) -> v => (2, v.unwrap()),
            recv(cs[3]) -> v => (3, v.unwrap()),
            recv(cs[4]) -> v => (4, v.unwrap()),
            recv(cs[5]) -> v => (5, v.unwrap()),
            recv(cs[6]) -> v => (6, v.unwrap()),
            recv(cs[7]) -> v => (7, v.unwrap()),
            recv(cs[8]) -> v => (8, v.unwrap()),
            recv(cs[9]) -> v => (9, v.unwrap()),
            recv(cs[10]) -> v => (10, v.unwrap()),
            recv(cs[11]) -> v => (11, v.unwrap()),
            recv(cs[12]) -> v => (12, v.unwrap()),
            recv(cs[13]) -> v => (13, v.unwrap()),
            recv(cs[14]) -> v => (14, v.unwrap()),
            recv(cs[15]) -> v => (15, v.unwrap()),
            recv(cs[16]) -> v => (16, v.unwrap()),
            recv(cs[17]) -> v => (17, v.unwrap()),
            recv(cs[18]) -> v => (18, v.unwrap()),
            recv(cs[19]) -> v => (19, v.unwrap()),
            recv(cs[20]) -> v => (20, v.unwrap()),
            recv(cs[21]) -> v => (21, v.unwrap()),
            recv(cs[22]) -> v => (22, v.unwrap()),
            recv(cs[23]) -> v => (23, v.unwrap()),
            recv(cs[24]) -> v => (24, v.unwrap()),
            recv(cs[25]) -> v => (25, v.unwrap()),
            recv(cs[26]) -> v => (26, v.unwrap()),
            recv(cs[27]) -> v => (27, v.unwrap()),
            recv(cs[28]) -> v => (28, v.unwrap()),
            recv(cs[29]) -> v => (29, v.unwrap()),
            recv(cs[30]) -> v => (30, v.unwrap()),
            recv(cs[31]) -> v => (31, v.unwrap()),
            recv(cs[32]) -> v => (32, v.unwrap()),
            recv(cs[33]) -> v => (33, v.unwrap()),
            recv(cs[34]) -> v => (34, v.unwrap()),
            recv(cs[35]) -> v => (35, v.unwrap()),
            recv(cs[36]) -> v => (36, v.unwrap()),
            recv(cs[37]) -> v => (37, v.unwrap()),
            recv(cs[38]) -> v => (38, v.unwrap()),
            recv(cs[39]) -> v => (39, v.unwrap()),
            recv(cs[40]) -> v => (40, v.unwrap()),
            recv(cs[41]) -> v => (41, v.unwrap()),
            recv(cs[42]) -> v => (42, v.unwrap()),
            recv(cs[43]) -> v => (43, v.unwrap()),
            recv(cs[44]) -> v => (44, v.unwrap()),
            recv(cs[45]) -> v => (45, v.unwrap()),
            recv(cs[46]) -> v => (46, v.unwrap()),
            recv(cs[47]) -> v => (47, v.unwrap()),
            recv(cs[48]) -> v => (48, v.unwrap()),
            recv(cs[49]) -> v => (49, v.unwrap()),
            recv(cs[50]) -> v => (50, v.unwrap()),
            recv(cs[51]) -> v => (51, v.unwrap()),
            recv(cs[52]) -> v => (52, v.unwrap()),
            recv(cs[53]) -> v => (53, v.unwrap()),
            recv(cs[54]) -> v => (54, v.unwrap()),
            recv(cs[55]) -> v => (55, v.unwrap()),
            recv(cs[56]) -> v => (56, v.unwrap()),
            recv(cs[57]) -> v => (57, v.unwrap()),
            recv(cs[58]) -> v => (58, v.unwrap()),
            recv(cs[59]) -> v => (59, v.unwrap()),
            recv(cs[60]) -> v => (60, v.unwrap()),
            recv(cs[61]) -> v => (61, v.unwrap()),
            recv(cs[62]) -> v => (62, v.unwrap()),
            send(out, 99) => (63, 99),
    }
}

#[test]
fn a_select_of_64_cases_compiles_and_completes_the_ready_one() {
    on_both(|| {
        let cs: Vec<Chan<usize>> = (0..63).map(|_| chan::make(1)).collect();
        let out = chan::make::<usize>(1);
        for k in [0, 1, 31, 62] {
            // Fill `out` so that its send case is not ready either.
            out.send(0);
            cs[k].send(1000 + k);
            assert_eq!(select64(&cs, &out), (k, 1000 + k));
            out.recv();
        }
        // Only the send case is ready.
        assert_eq!(select64(&cs, &out), (63, 99));
        assert_eq!(out.recv(), Some(99));
    });
}
