"""Real-looking telephone numbers for the traffic generator: blocks of valid numbers and how each site dials them.

A *block* is an E.164 prefix plus a count of free digits, chosen so that **every** filling of the free
digits is a valid number for ``phonenumbers`` (checked by ``tests/test_traffic.py``).  The generator
draws a block per call and random digits per call, so no number is ever validated one by one on the
hot path.

How a user at a site dials a block is a per-country rule (``DIAL_RULES``) rather than code: NANP users
dial ten digits locally and ``1`` + ten digits long-distance, UK users the trunk prefix ``0`` + the
national number, Chinese users the bare subscriber number within their own city, ``0`` + area code
elsewhere and mobiles without any prefix.  The PBX access code goes in front of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

FIXED, MOBILE, TOLLFREE = "fixed", "mobile", "tollfree"


@dataclass(frozen=True, slots=True)
class Block:
    """``e164`` digits (country code included, no '+') followed by ``free`` random digits."""

    country: str  # ISO 3166 alpha-2
    e164: str
    free: int
    kind: str  # fixed | mobile | tollfree
    name: str

    @property
    def length(self) -> int:
        return len(self.e164) + self.free


def _blocks(country: str, kind: str, free: int, names: dict[str, str]) -> tuple[Block, ...]:
    return tuple(Block(country, prefix, free, kind, name) for prefix, name in names.items())


#: Domestic number blocks of the sample sites' countries (local, national, mobile, toll-free).
DOMESTIC: dict[str, tuple[Block, ...]] = {
    "US": (
        _blocks("US", FIXED, 6, {
            "12127": "New York, Manhattan", "16463": "New York, Manhattan", "19172": "New York City",
            "17184": "New York, Brooklyn/Queens", "13474": "New York, outer boroughs",
            "12025": "Washington DC", "13122": "Chicago", "14154": "San Francisco", "12133": "Los Angeles",
            "16172": "Boston", "13053": "Miami", "15124": "Austin", "12062": "Seattle", "14045": "Atlanta",
            "12016": "Jersey City",
        })
        + _blocks("US", TOLLFREE, 6, {"18002": "US toll-free", "18883": "US toll-free", "18774": "US toll-free",
                                      "18665": "US toll-free"})
    ),
    "GB": (
        _blocks("GB", FIXED, 7, {
            "44207": "London", "44203": "London", "44208": "London", "44161": "Manchester",
        })
        + _blocks("GB", FIXED, 6, {"441214": "Birmingham", "441314": "Edinburgh", "441179": "Bristol",
                                   "441132": "Leeds"})
        + _blocks("GB", MOBILE, 6, {"447400": "UK mobile", "447912": "UK mobile", "447817": "UK mobile",
                                    "447723": "UK mobile"})
        + _blocks("GB", TOLLFREE, 7, {"44800": "UK freephone", "44808": "UK freephone"})
    ),
    "CN": (
        _blocks("CN", FIXED, 7, {
            "86215": "Shanghai", "86216": "Shanghai", "86213": "Shanghai", "86106": "Beijing", "86208": "Guangzhou",
            "867552": "Shenzhen", "865718": "Hangzhou", "86258": "Nanjing",
        })
        + _blocks("CN", MOBILE, 8, {"86139": "China mobile", "86138": "China mobile", "86186": "China mobile",
                                    "86150": "China mobile", "86135": "China mobile"})
        + _blocks("CN", TOLLFREE, 7, {"86800": "China toll-free"})
    ),
}

@dataclass(frozen=True, slots=True)
class Country:
    """A foreign destination: one fixed and one mobile block, and the facts its tariff rows need."""

    iso: str
    cc: str
    name: str
    fixed: str
    fixed_free: int
    mobile: str
    mobile_free: int
    mobile_prefixes: tuple[str, ...]  # tariff prefixes priced as mobile ((): same price as fixed)
    ref_fixed: str  # reference PSTN $/min from the US, fixed
    ref_mobile: str

    def blocks(self) -> tuple[Block, Block]:
        return (Block(self.iso, self.fixed, self.fixed_free, FIXED, self.name),
                Block(self.iso, self.mobile, self.mobile_free, MOBILE, self.name + " mobile"))


#: Foreign destinations.  Blocks were checked against ``phonenumbers`` (every filling is valid).
COUNTRIES: dict[str, Country] = {c.iso: c for c in (
    Country("US", "1", "United States", "12127", 6, "14154", 6, (), "0.0800", "0.0800"),
    Country("CA", "1", "Canada", "14165", 6, "16045", 6, ("1416", "1604", "1514", "1403",), "0.0900", "0.0900"),
    Country("GB", "44", "United Kingdom", "44207", 7, "447400", 6, ("447",), "0.2800", "0.4500"),
    Country("CN", "86", "China", "86215", 7, "86139", 8, ("8613", "8615", "8618", "8617", "8619",), "0.3200", "0.3200"),
    Country("DE", "49", "Germany", "4930", 6, "4915123", 6, ("4915", "4916", "4917",), "0.2900", "0.5200"),
    Country("FR", "33", "France", "33123", 6, "33612", 6, ("336", "337",), "0.2700", "0.4900"),
    Country("IT", "39", "Italy", "390212", 6, "393123", 6, ("393",), "0.3100", "0.5400"),
    Country("ES", "34", "Spain", "34810", 6, "34612", 6, ("346", "347",), "0.2900", "0.4800"),
    Country("NL", "31", "Netherlands", "31101", 6, "31612", 6, ("316",), "0.2800", "0.5600"),
    Country("CH", "41", "Switzerland", "41212", 6, "41781", 6, ("417",), "0.3400", "0.6800"),
    Country("IE", "353", "Ireland", "35322", 5, "353850", 6, ("3538",), "0.2600", "0.4600"),
    Country("BE", "32", "Belgium", "3212", 6, "32450", 6, ("324",), "0.2900", "0.5500"),
    Country("SE", "46", "Sweden", "468", 6, "46701", 6, ("467",), "0.2700", "0.4400"),
    Country("PL", "48", "Poland", "48123", 6, "48512", 6, ("485", "486", "487", "488",), "0.2700", "0.3900"),
    Country("PT", "351", "Portugal", "351212", 6, "351912", 6, ("3519",), "0.3000", "0.4700"),
    Country("AT", "43", "Austria", "431234", 6, "43664", 6, ("436",), "0.3000", "0.5900"),
    Country("DK", "45", "Denmark", "45321", 5, "45344", 5, (), "0.2800", "0.2800"),
    Country("NO", "47", "Norway", "4721", 6, "4740", 6, ("474", "479",), "0.2800", "0.4600"),
    Country("IN", "91", "India", "917410", 6, "918123", 6, (), "0.4100", "0.4100"),
    Country("JP", "81", "Japan", "81312", 6, "819012", 6, ("8170", "8180", "8190",), "0.3500", "0.6100"),
    Country("KR", "82", "South Korea", "8222", 6, "821020", 6, ("8210",), "0.3300", "0.4200"),
    Country("HK", "852", "Hong Kong", "85221", 6, "852512", 5, (), "0.2600", "0.2600"),
    Country("TW", "886", "Taiwan", "886221", 6, "886912", 6, ("8869",), "0.3200", "0.4400"),
    Country("SG", "65", "Singapore", "6561", 6, "6581", 6, (), "0.2700", "0.2700"),
    Country("MY", "60", "Malaysia", "60323", 6, "60123", 6, ("601",), "0.3100", "0.3800"),
    Country("TH", "66", "Thailand", "6621", 6, "66812", 6, ("668", "669", "666",), "0.3400", "0.3900"),
    Country("VN", "84", "Vietnam", "842101", 6, "84912", 6, ("849", "843", "848",), "0.4200", "0.4800"),
    Country("ID", "62", "Indonesia", "62218", 6, "62812", 6, ("628",), "0.4000", "0.4600"),
    Country("PH", "63", "Philippines", "63232", 6, "639051", 6, ("639",), "0.4300", "0.5300"),
    Country("AU", "61", "Australia", "61212", 6, "61412", 6, ("614",), "0.3000", "0.5200"),
    Country("NZ", "64", "New Zealand", "6432", 6, "64211", 6, ("642",), "0.3500", "0.5900"),
    Country("MX", "52", "Mexico", "522001", 6, "522221", 6, (), "0.2900", "0.2900"),
    Country("BR", "55", "Brazil", "551123", 6, "5511961", 6, ("55119", "55219",), "0.3300", "0.5700"),
    Country("AR", "54", "Argentina", "541123", 6, "5491123", 6, ("549",), "0.3600", "0.5800"),
    Country("IL", "972", "Israel", "97221", 6, "972502", 6, ("9725",), "0.3200", "0.4700"),
    Country("AE", "971", "United Arab Emirates", "97122", 6, "971501", 6, ("9715",), "0.6200", "0.7100"),
    Country("ZA", "27", "South Africa", "27101", 6, "27711", 6, ("276", "277", "278",), "0.3900", "0.6600"),
    Country("TR", "90", "Turkey", "902123", 6, "905012", 6, ("905",), "0.3800", "0.6400"),
    Country("EG", "20", "Egypt", "20234", 6, "201001", 6, ("201",), "0.5300", "0.6200"),
    Country("SA", "966", "Saudi Arabia", "966112", 6, "966512", 6, ("9665",), "0.5800", "0.6800"),
)}


@dataclass(frozen=True, slots=True)
class DialRule:
    """How users of one country dial (after the PBX access code).

    Templates use ``{nsn}`` (national significant number) and ``{sub}`` (the subscriber number without
    the caller's own area code, for countries where local calls are dialled that way).
    """

    international: str
    local: str
    national: str
    mobile: str
    tollfree: str
    #: How the PSTN presents a domestic number to the PBX (calling number of inbound calls, DIDs).
    presented_fixed: str = "0{nsn}"
    presented_mobile: str = "0{nsn}"


DIAL_RULES: dict[str, DialRule] = {
    "US": DialRule(international="011", local="{nsn}", national="1{nsn}", mobile="1{nsn}", tollfree="1{nsn}",
                   presented_fixed="{nsn}", presented_mobile="{nsn}"),
    "GB": DialRule(international="00", local="0{nsn}", national="0{nsn}", mobile="0{nsn}", tollfree="0{nsn}"),
    "CN": DialRule(international="00", local="{sub}", national="0{nsn}", mobile="{nsn}", tollfree="{nsn}",
                   presented_mobile="{nsn}"),
}

#: Emergency short numbers per country, as users dial them (with or without the access code).
EMERGENCY: dict[str, tuple[str, ...]] = {"US": ("911",), "GB": ("999", "112"), "CN": ("110", "120", "119")}

#: Foreign destinations per site country, with relative weights (international traffic mix).
INTERNATIONAL_MIX: dict[str, dict[str, float]] = {
    "US": {"CA": 8, "DE": 7, "FR": 5, "IT": 3, "ES": 3, "NL": 3, "CH": 2, "IE": 3, "IN": 8, "CN": 6, "JP": 5,
           "KR": 2, "MX": 6, "BR": 3, "AR": 1, "AU": 3, "IL": 2, "ZA": 1, "HK": 2, "SG": 2, "PH": 2},
    "GB": {"US": 14, "DE": 8, "FR": 8, "IE": 6, "NL": 4, "ES": 4, "IT": 3, "CH": 2, "BE": 2, "SE": 2, "PL": 3,
           "PT": 2, "IN": 6, "CN": 4, "HK": 2, "SG": 2, "AE": 3, "ZA": 2, "AU": 3, "JP": 2, "TR": 1, "EG": 1, "SA": 1},
    "CN": {"US": 12, "GB": 5, "JP": 8, "KR": 7, "HK": 9, "TW": 6, "SG": 5, "MY": 3, "TH": 3, "VN": 3, "ID": 2,
           "PH": 2, "AU": 4, "DE": 4, "FR": 2, "IN": 2, "NZ": 1},
}
