"""Write the CUCM chain scenarios as 129-column flat files (header + type line of the real 2021 sample)."""
import csv, io, calendar
from datetime import datetime, timezone
SAMPLE = "../shared/samples/cucm/cdr_StandAloneCluster_02_202112131407_515358"  # run from the repository root
lines = open(SAMPLE, encoding="utf-8").read().splitlines()
names = next(csv.reader([lines[0]])); types = next(csv.reader([lines[1]]))
def t(hms):
    h, m, s = map(int, hms.split(":"))
    return str(calendar.timegm(datetime(2026, 10, 14, h, m, s, tzinfo=timezone.utc).timetuple()))
_pk = [0]
def cdr(gcid, legs, calling, called, orig_dev, dest_dev, orig, conn, disc, dur, causes=("16", "0"), term=("12", "0"),
        join="0", last_rdr=None, rdr_obo=("0", "0"), rdr_reason=("0", "0"), comment="", final=None, conv="0"):
    _pk[0] += 1
    v = {n: ("0" if ty.upper() in ("INTEGER", "BIGINT", "SMALLINT") else "") for n, ty in zip(names, types)}
    v.update({"cdrRecordType": "1", "globalCallID_callManagerId": "1", "globalCallID_callId": str(gcid),
              "origLegCallIdentifier": str(legs[0]), "destLegIdentifier": str(legs[1]),
              "dateTimeOrigination": t(orig), "dateTimeConnect": t(conn) if conn else "0",
              "dateTimeDisconnect": t(disc), "duration": str(dur), "callingPartyNumber": calling,
              "originalCalledPartyNumber": called, "finalCalledPartyNumber": final or called,
              "lastRedirectDn": last_rdr if last_rdr is not None else (final or called),
              "origCause_value": causes[0], "destCause_value": causes[1],
              "origCallTerminationOnBehalfOf": term[0], "destCallTerminationOnBehalfOf": term[1],
              "origCalledPartyRedirectOnBehalfOf": rdr_obo[0], "lastRedirectRedirectOnBehalfOf": rdr_obo[1],
              "origCalledPartyRedirectReason": rdr_reason[0], "lastRedirectRedirectReason": rdr_reason[1],
              "joinOnBehalfOf": join, "comment": comment, "destConversationId": conv,
              "pkid": f"00000000-0000-4000-8000-{_pk[0]:012d}", "origDeviceName": orig_dev, "destDeviceName": dest_dev,
              "globalCallId_ClusterID": "NYC-CL"})
    return v
GW = "NYC-PSTN-GW"
def write(path, rows):
    out = io.StringIO()
    out.write(lines[0] + "\n" + lines[1] + "\n")
    w = csv.writer(out, quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
    for r in rows:
        out.write(",".join(r[n] if ty.upper() in ("INTEGER", "BIGINT", "SMALLINT") else f'"{r[n]}"' for n, ty in zip(names, types)) + "\n")
    open(path, "w").write(out.getvalue())

D = "tests/data/chains/"
# A. blind transfer of an outbound PSTN call (Cisco §7.3): 1001 → 912126661234, 120 s, blind to 1002, 360 s
blind = [
    cdr(1, (101, 102), "1001", "912126661234", "SEP000000001001", GW, "10:00:00", "10:00:05", "10:02:05", 120,
        causes=("393216", "393216"), term=("10", "10")),
    cdr(2, (103, 104), "1001", "1002", "SEP000000001001", "SEP000000001002", "10:02:00", None, "10:02:05", 0,
        causes=("393216", "393216"), term=("10", "10")),
    cdr(1, (102, 104), "12126661234", "1002", GW, "SEP000000001002", "10:02:05", "10:02:10", "10:08:10", 360,
        last_rdr="1001", join="10", rdr_obo=("0", "10"), rdr_reason=("0", "4")),
]
# B. consultative transfer to the PSTN: 1001 ↔ 1003 (65 s), 1001 consults 912126669876 (30 s), 1003 ↔ PSTN 200 s
consult = [
    cdr(10, (201, 202), "1001", "1003", "SEP000000001001", "SEP000000001003", "10:10:00", "10:10:05", "10:11:10", 65,
        causes=("393216", "393216"), term=("10", "10")),
    cdr(11, (203, 204), "1001", "912126669876", "SEP000000001001", GW, "10:10:35", "10:10:40", "10:11:10", 30,
        causes=("393216", "393216"), term=("10", "10")),
    cdr(10, (202, 204), "1003", "912126669876", "SEP000000001003", GW, "10:11:10", "10:11:10", "10:14:30", 200,
        last_rdr="1001", join="10", rdr_obo=("0", "10"), rdr_reason=("0", "4")),
]
# C. ad hoc conference (Cisco §7.4): 1001 ↔ 1002, 1001 adds 912126664444; the PSTN party leaves first
ctl = "ConfControllerDn=1001;ConfControllerDeviceName=SEP000000001001;ConfDeviceName=CFB_2;ConfRequestorDN=1001"
conf = [
    cdr(20, (301, 302), "1001", "1002", "SEP000000001001", "SEP000000001002", "11:00:00", "11:00:02", "11:01:02", 60,
        causes=("393216", "393216"), term=("4", "4")),
    cdr(21, (305, 306), "1001", "912126664444", "SEP000000001001", GW, "11:00:50", "11:00:52", "11:01:02", 10,
        causes=("0", "0"), term=("4", "4"), comment=ctl),
    cdr(20, (301, 315), "1001", "b0029901001", "SEP000000001001", "CFB_2", "11:01:02", "11:01:02", "11:06:02", 300,
        causes=("16", "393216"), term=("12", "0"), join="4", rdr_obo=("4", "4"), rdr_reason=("98", "98"), comment=ctl, conv="1"),
    cdr(20, (302, 316), "1002", "b0029901001", "SEP000000001002", "CFB_2", "11:01:02", "11:01:02", "11:06:02", 300,
        causes=("393216", "393216"), term=("12", "0"), join="4", rdr_obo=("4", "4"), rdr_reason=("98", "98"), comment=ctl, conv="1"),
    cdr(20, (306, 317), "12126664444", "b0029901001", GW, "CFB_2", "11:01:02", "11:01:02", "11:05:02", 240,
        causes=("393216", "393216"), term=("4", "4"), join="4", rdr_obo=("4", "4"), rdr_reason=("98", "98"), comment=ctl, conv="1"),
    cdr(20, (301, 302), "1001", "1002", "SEP000000001001", "SEP000000001002", "11:06:02", "11:06:02", "11:07:02", 60,
        causes=("16", "0"), term=("12", "4"), join="4", last_rdr="b0029901001", rdr_obo=("0", "4"), rdr_reason=("0", "98")),
]
# D. forward all off-net: 12126660111 calls DID 1005 (CFA to mobile 919175550123), one CDR
fwd = [
    cdr(40, (501, 502), "12126660111", "1005", GW, GW, "12:00:00", "12:00:10", "12:03:10", 180,
        final="919175550123", last_rdr="1005", join="5", rdr_obo=("5", "5"), rdr_reason=("15", "15")),
]
# E. park and pickup: 12126660222 calls 1006, 1006 parks it, 1007 retrieves it from park code 7001
park = [
    cdr(30, (401, 402), "12126660222", "1006", GW, "SEP000000001006", "10:30:00", "10:30:03", "10:30:43", 40,
        causes=("393216", "393216"), term=("3", "3")),
    cdr(30, (410, 401), "1007", "12126660222", "SEP000000001007", GW, "10:31:10", "10:31:10", "10:33:10", 120,
        last_rdr="7001", join="3", rdr_obo=("0", "3"), rdr_reason=("0", "8")),
]
write(D + "cdr_NYC-CL_01_202610141005_1", blind[:1] + consult[:0])
write(D + "cdr_NYC-CL_01_202610141015_2", blind[1:] + consult)
write(D + "cdr_NYC-CL_01_202610141110_3", conf)
write(D + "cdr_NYC-CL_01_202610141235_4", fwd + park)
# F. barge (shared line, cucm-cdr.md §7.2): a PSTN caller talks to 1008 for 300 s; 1009 barges in for 60 s
barge = [
    cdr(50, (601, 602), "12126665555", "1008", GW, "SEP000000001008", "13:00:00", "13:00:04", "13:05:04", 300),
    cdr(50, (610, 611), "1009", "b0029901002", "SEP000000001009", "CFB_2", "13:02:00", "13:02:00", "13:03:00", 60,
        causes=("16", "0"), term=("12", "0"), join="15", rdr_obo=("15", "15"), rdr_reason=("114", "114"), conv="602"),
]
write(D + "barge/cdr_NYC-CL_01_202610141305_5", barge)
