"""The CUCM CDR flat-file layout and the vocabularies the CUCM connector reads, as data.

Cisco appends fields at the end of the record in each release (118 columns in 10.x, 129 in 11.x/12.x,
133 from 12.5(1)SU1), so the connector maps columns by *name*; this list is the newest layout in file
order, used to write genuine-looking files.  A header-less export is read by the layout of its column
count (``HEADERLESS_LAYOUTS``): only counts whose order a real header line shows; any other count is
refused, not guessed.
Device-name conventions and cause-code classes are data too, so a site with unusual device names
adds a prefix here (or in its ``[[pbx]]`` options) rather than editing parsing code.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``name TYPE`` per column, in file order (CUCM 12.5(1)SU1 / 14 / 15, 133 columns).
_LAYOUT = """
    cdrRecordType INTEGER
    globalCallID_callManagerId INTEGER
    globalCallID_callId INTEGER
    origLegCallIdentifier INTEGER
    dateTimeOrigination INTEGER
    origNodeId INTEGER
    origSpan INTEGER
    origIpAddr INTEGER
    callingPartyNumber VARCHAR(50)
    callingPartyUnicodeLoginUserID VARCHAR(128)
    origCause_location INTEGER
    origCause_value INTEGER
    origPrecedenceLevel INTEGER
    origMediaTransportAddress_IP INTEGER
    origMediaTransportAddress_Port INTEGER
    origMediaCap_payloadCapability INTEGER
    origMediaCap_maxFramesPerPacket INTEGER
    origMediaCap_g723BitRate INTEGER
    origVideoCap_Codec INTEGER
    origVideoCap_Bandwidth INTEGER
    origVideoCap_Resolution INTEGER
    origVideoTransportAddress_IP INTEGER
    origVideoTransportAddress_Port INTEGER
    origRSVPAudioStat VARCHAR(64)
    origRSVPVideoStat VARCHAR(64)
    destLegIdentifier INTEGER
    destNodeId INTEGER
    destSpan INTEGER
    destIpAddr INTEGER
    originalCalledPartyNumber VARCHAR(50)
    finalCalledPartyNumber VARCHAR(50)
    finalCalledPartyUnicodeLoginUserID VARCHAR(128)
    destCause_location INTEGER
    destCause_value INTEGER
    destPrecedenceLevel INTEGER
    destMediaTransportAddress_IP INTEGER
    destMediaTransportAddress_Port INTEGER
    destMediaCap_payloadCapability INTEGER
    destMediaCap_maxFramesPerPacket INTEGER
    destMediaCap_g723BitRate INTEGER
    destVideoCap_Codec INTEGER
    destVideoCap_Bandwidth INTEGER
    destVideoCap_Resolution INTEGER
    destVideoTransportAddress_IP INTEGER
    destVideoTransportAddress_Port INTEGER
    destRSVPAudioStat VARCHAR(64)
    destRSVPVideoStat VARCHAR(64)
    dateTimeConnect INTEGER
    dateTimeDisconnect INTEGER
    lastRedirectDn VARCHAR(50)
    pkid UNIQUEIDENTIFIER
    originalCalledPartyNumberPartition VARCHAR(50)
    callingPartyNumberPartition VARCHAR(50)
    finalCalledPartyNumberPartition VARCHAR(50)
    lastRedirectDnPartition VARCHAR(50)
    duration INTEGER
    origDeviceName VARCHAR(129)
    destDeviceName VARCHAR(129)
    origCallTerminationOnBehalfOf INTEGER
    destCallTerminationOnBehalfOf INTEGER
    origCalledPartyRedirectOnBehalfOf INTEGER
    lastRedirectRedirectOnBehalfOf INTEGER
    origCalledPartyRedirectReason INTEGER
    lastRedirectRedirectReason INTEGER
    destConversationId INTEGER
    globalCallId_ClusterID VARCHAR(50)
    joinOnBehalfOf INTEGER
    comment VARCHAR(2048)
    authCodeDescription VARCHAR(50)
    authorizationLevel INTEGER
    clientMatterCode VARCHAR(32)
    origDTMFMethod INTEGER
    destDTMFMethod INTEGER
    callSecuredStatus INTEGER
    origConversationId INTEGER
    origMediaCap_Bandwidth INTEGER
    destMediaCap_Bandwidth INTEGER
    authorizationCodeValue VARCHAR(32)
    outpulsedCallingPartyNumber VARCHAR(50)
    outpulsedCalledPartyNumber VARCHAR(50)
    origIpv4v6Addr VARCHAR(64)
    destIpv4v6Addr VARCHAR(64)
    origVideoCap_Codec_Channel2 INTEGER
    origVideoCap_Bandwidth_Channel2 INTEGER
    origVideoCap_Resolution_Channel2 INTEGER
    origVideoTransportAddress_IP_Channel2 INTEGER
    origVideoTransportAddress_Port_Channel2 INTEGER
    origVideoChannel_Role_Channel2 INTEGER
    destVideoCap_Codec_Channel2 INTEGER
    destVideoCap_Bandwidth_Channel2 INTEGER
    destVideoCap_Resolution_Channel2 INTEGER
    destVideoTransportAddress_IP_Channel2 INTEGER
    destVideoTransportAddress_Port_Channel2 INTEGER
    destVideoChannel_Role_Channel2 INTEGER
    IncomingProtocolID INTEGER
    IncomingProtocolCallRef VARCHAR(32)
    OutgoingProtocolID INTEGER
    OutgoingProtocolCallRef VARCHAR(32)
    currentRoutingReason INTEGER
    origRoutingReason INTEGER
    lastRedirectingRoutingReason INTEGER
    huntPilotPartition VARCHAR(50)
    huntPilotDN VARCHAR(50)
    calledPartyPatternUsage INTEGER
    IncomingICID VARCHAR(50)
    IncomingOrigIOI VARCHAR(50)
    IncomingTermIOI VARCHAR(50)
    OutgoingICID VARCHAR(50)
    OutgoingOrigIOI VARCHAR(50)
    OutgoingTermIOI VARCHAR(50)
    outpulsedOriginalCalledPartyNumber VARCHAR(50)
    outpulsedLastRedirectingNumber VARCHAR(50)
    wasCallQueued INTEGER
    totalWaitTimeInQueue INTEGER
    callingPartyNumber_uri VARCHAR(255)
    originalCalledPartyNumber_uri VARCHAR(255)
    finalCalledPartyNumber_uri VARCHAR(255)
    lastRedirectDn_uri VARCHAR(255)
    mobileCallingPartyNumber VARCHAR(50)
    finalMobileCalledPartyNumber VARCHAR(50)
    origMobileDeviceName VARCHAR(129)
    destMobileDeviceName VARCHAR(129)
    origMobileCallDuration INTEGER
    destMobileCallDuration INTEGER
    mobileCallType INTEGER
    originalCalledPartyPattern VARCHAR(50)
    finalCalledPartyPattern VARCHAR(50)
    lastRedirectingPartyPattern VARCHAR(50)
    huntPilotPattern VARCHAR(50)
    origDeviceType VARCHAR(100)
    destDeviceType VARCHAR(100)
    origDeviceSessionID VARCHAR(128)
    destDeviceSessionID VARCHAR(128)
"""

#: (header name, line-2 type) for every column of the newest release, in file order.
CDR_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (name, typ) for name, typ in (line.split() for line in _LAYOUT.strip().splitlines())
)
CDR_FIELD_NAMES: tuple[str, ...] = tuple(name for name, _ in CDR_FIELDS)



@dataclass(frozen=True, slots=True)
class HeaderlessLayout:
    """The column order of a header-less CDR file with this many fields per record, and where it was read."""

    columns: int
    releases: str  # the CUCM releases that write this many columns
    evidence: str  # the real header line the order was checked against
    names: tuple[str, ...]


def _prefix(columns: int, releases: str, evidence: str) -> HeaderlessLayout:
    return HeaderlessLayout(columns, releases, evidence, CDR_FIELD_NAMES[:columns])


#: Header-less files (exports and collection scripts that strip the two header lines) are read by the
#: layout of their column count.  Only counts whose column order was read from a real CUCM header line
#: are here; each is a prefix of the newest layout (checked name by name and type by type against the
#: shared samples, ``tests/test_cucm_headerless.py``).
HEADERLESS_LAYOUTS: dict[int, HeaderlessLayout] = {h.columns: h for h in (
    _prefix(118, "10.0", "damhau/cucm-cdr sample of Oct 2015 (ends at lastRedirectDn_uri)"),
    _prefix(129, "10.5 - 12.5(1)", "reminisc3/CSVUtil file of Jan 2016 (10.5) and denikond/CUCM_CDR files of "
                                   "Dec 2021 (+ 7 mobility and 4 *Pattern fields)"),
    _prefix(133, "12.5(1)SU1 - 15", "sieteunoseis/cisco-cucm-cdr sample of Apr 2025, CUCM 14/15 (+ device types "
                                    "and session ids, 12.5(1)SU1 release notes)"),
)}

#: Column counts other sources give for other releases, whose order no real header line confirms: a
#: header-less file of such a width is quarantined whole rather than mapped by a guessed order.  (The
#: per-release field lists of 8.0 and 9.0 put fields where later files do not have them, so the order of
#: those releases cannot be derived from the newest layout.)
UNCONFIRMED_WIDTHS: dict[int, str] = {
    78: "6.x (6.1 field list)", 94: "7.x (7.1 field list)", 103: "8.0 (third-party field list)",
    104: "8.5 / 8.6 (third-party field list)", 110: "9.x (third-party field list)",
    123: "reported for 10.5; no Cisco field list or real file with 123 columns was found",
    125: "10.0 by a third-party field list (which the real 118-column 10.x file contradicts)",
}

#: Header spellings met in documentation but not in files, lower-cased → the header name real files use.
#: (Case differences — ``destConversationID``, ``Comment``, ``incomingProtocolID`` — are folded anyway.)
HEADER_ALIASES: dict[str, str] = {
    "destlegcallidentifier": "destLegIdentifier",
    "cmrrecordtype": "cdrRecordType",  # a typo in Cisco's CMR example
}

#: Device names of *endpoints* (not trunks), as regexes anchored at the start of the name and matched
#: case-insensitively: Cisco phones are SEP<MAC>, Jabber CSF/BOT/TCT/TAB, analog ports ATA<MAC>/AN<MAC><port>,
#: soft clients and CTI ports, plus media resources and the parking-lot pseudo device that can appear as
#: the far side of a CDR.  A site with its own naming adds patterns in ``[[pbx]] endpoint_devices``.
ENDPOINT_PATTERNS: tuple[str, ...] = (
    "SEP", "CSF", "BOT", "TCT", "TAB", "ATA", r"AN[0-9A-F]{12}", "CIPC", "CTI", "UCCX", "SPARK", "WEBEX",
    "CFB", "MTP", "ANN_", "MOH_", "XCODE", "IVR_", "PARKINGLOTDEVICE",
)

#: Voice-messaging and auto-attendant ports (globs, case-insensitive): Cisco Unity Connection's SCCP ports
#: are named by the voice-mail port wizard ``CiscoUM1-VI1``, ``CiscoUM1-VI2`` …  A leg between a phone and
#: one of them is internal; the port is never taken for a trunk.  A site adds its own (a SIP trunk to its
#: Unity Connection cluster, say) in ``[[site]] voicemail_devices``.
VOICEMAIL_DEVICES: tuple[str, ...] = ("CiscoUM*",)

#: Substrings that mark a device name as a trunk or gateway (case-insensitive), checked after the endpoint
#: patterns.  A name matching neither is treated as a trunk when the other side is an endpoint, and the
#: direction is left null when neither side is recognisably a phone.  ``[[pbx]] trunk_devices`` (globs)
#: names trunks explicitly and wins over both lists.
TRUNK_HINTS: tuple[str, ...] = (
    "gw", "gateway", "trunk", "sip", "cube", "pstn", "pri", "isdn", "h323", "mgcp", "@", "sbc", "teho",
)

#: Q.850 causes (low byte of Cisco/SIP-mapped values) for an unconnected call.
BUSY_CAUSES: frozenset[int] = frozenset({17})
NO_ANSWER_CAUSES: frozenset[int] = frozenset({0, 16, 18, 19})
#: Cisco "call split" (0x60000): the leg was ended by a feature (transfer, conference), not a failure.
SPLIT_CAUSE = 393216

#: cdrRecordType values: 1 = CDR (a call segment); 0 = start record (unused), 2 = CMR (quality record).
CDR_RECORD_TYPE = "1"
CMR_RECORD_TYPE = "2"
