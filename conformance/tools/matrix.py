# Generates conformance/scripts/matrix/**.tcp: the RFC 9293 section 3.10.7 state x segment
# matrix with its sequence and acknowledgment edge variants.
import os, textwrap
OUT = os.path.join(os.environ.get('SCRIPTS_DIR', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts')), 'matrix')
W = 65535
# The suite's baseline configuration (conformance/src/script.rs, BASELINE_CONFIG).
CFG = 'timestamps=off sack=off wscale=off rto_min=1'

HS = [
    '+0    < S seq=0 win=65535 <mss 1460>',
    '+0    > S. seq=0 ack=1 win=65535 <mss 1460>',
    '+0.1  < . seq=1 ack=1 win=65535',
    '      expect state ESTABLISHED',
]
STATES = {
  # name: (setup, preamble, RCV.NXT, SND.UNA, SND.NXT)
  'ESTABLISHED': ('listen', HS, 1, 1, 1),
  'FIN-WAIT-1': ('listen', HS + ['+0.1  call shutdown() = 0', '+0    > F. seq=1 ack=1 win=65535', '      expect state FIN-WAIT-1'], 1, 1, 2),
  'FIN-WAIT-2': ('listen', HS + ['+0.1  call shutdown() = 0', '+0    > F. seq=1 ack=1 win=65535', '+0.1  < . seq=1 ack=2 win=65535', '      expect state FIN-WAIT-2'], 1, 2, 2),
  'CLOSE-WAIT': ('listen', HS + ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=1 ack=2 win=65534', '      expect state CLOSE-WAIT'], 2, 1, 1),
  'CLOSING': ('listen', HS + ['+0.1  call shutdown() = 0', '+0    > F. seq=1 ack=1 win=65535', '+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=2 ack=2 win=65534', '      expect state CLOSING'], 2, 1, 2),
  'LAST-ACK': ('listen', HS + ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=1 ack=2 win=65534', '+0.1  call close() = 0', '+0    > F. seq=1 ack=2 win=65534', '      expect state LAST-ACK'], 2, 1, 2),
  'TIME-WAIT': ('listen', HS + ['+0.1  call shutdown() = 0', '+0    > F. seq=1 ack=1 win=65535', '+0.1  < . seq=1 ack=2 win=65535', '+0.1  < F. seq=1 ack=2 win=65535', '+0    > . seq=2 ack=2 win=65534', '      expect state TIME-WAIT'], 2, 2, 2),
}
DIR = {'ESTABLISHED':'established','FIN-WAIT-1':'fin_wait_1','FIN-WAIT-2':'fin_wait_2','CLOSE-WAIT':'close_wait','CLOSING':'closing','LAST-ACK':'last_ack','TIME-WAIT':'time_wait','CLOSED':'closed','LISTEN':'listen','SYN-SENT':'syn_sent','SYN-RECEIVED':'syn_received'}

Q_UNACC = "If an incoming segment is not acceptable, an acknowledgment should be sent in reply (unless the RST bit is set, if so drop the segment and return)"
Q_RST_EXACT = "If the RST bit is set and the sequence number exactly matches the next expected sequence number (RCV.NXT), then TCP endpoints MUST reset the connection"
Q_RST_WIN = "If the RST bit is set and the sequence number does not exactly match the next expected sequence value, yet is within the current receive window, TCP endpoints MUST send an acknowledgment (challenge ACK)"
Q_RST_OUT = "If the RST bit is set and the sequence number is outside the current receive window, silently drop the segment"
Q_SYN = "if the SYN bit is set, irrespective of the sequence number, TCP endpoints MUST send a 'challenge ACK' to the remote peer"
Q_NOACK = "if the ACK bit is off, drop the segment and return"
Q_DATA_AFTER_FIN = "This should not occur since a FIN has been received from the remote side. Ignore the segment text."

count = 0
KNOWN = {
}
# Scripts for some runners only (`# stacks:`), with the reason.
STACKS = {
  'time_wait/syn_seq_beyond.tcp': 'engine; the host reopens TIME-WAIT on a SYN beyond RCV.NXT (RFC 1122 4.2.2.13, RFC 6191; see time_wait/syn_reopens); the bare engine answers with a challenge ACK (RFC 5961 4.2)',
  'time_wait/syn_seq_middle.tcp': 'engine; the host reopens TIME-WAIT on a SYN beyond RCV.NXT (RFC 1122 4.2.2.13, RFC 6191; see time_wait/syn_reopens); the bare engine answers with a challenge ACK (RFC 5961 4.2)',
}
# Where the RFCs allow more than one behaviour (`# allows:`): their words, and what each
# stack does (conformance/STACKS.md shows it beside the script's differences).
ALLOW_TW_SYN = ('linux: RFC 5961 4.2 (RFC 9293 3.10.7.4): a SYN in a synchronized state draws a challenge '
                'ACK, as the sansnet engine answers here; RFC 1122 4.2.2.13 and RFC 6191: a SYN in '
                'TIME-WAIT with a higher sequence number MAY reopen the connection, as the sansnet '
                'host and Linux do (a SYN-ACK)')
# An allows line that starts with `linux:` makes the script's failure on Linux count as a
# difference the RFC allows (conformance/src/stacks.rs, allows_stacks).
ALLOW_TW_RST = ('linux: RFC 1337 3, fix (F1): "Ignore RST segments in TIME-WAIT state. If the 2 '
                'minute MSL is enforced, this fix avoids all three hazards": Linux (tcp_rfc1337, '
                'which the lab sets) ignores every RST in TIME-WAIT; sansnet ignores the RST that '
                'would end TIME-WAIT and answers one inside the window with RFC 5961 3.2\'s '
                'challenge ACK, as this script expects')
ALLOW_DATA_AFTER_CLOSE = ('linux: RFC 1122 4.2.2.13: "if new data is received after CLOSE is '
                          'called, its TCP SHOULD send a RST to show that data was lost": Linux, '
                          'whose close() is half-duplex (nothing can be read after it), resets '
                          'on data past the FIN; RFC 9293 3.10.7.4 has LAST-ACK "Ignore the '
                          'segment text", as sansnet does and this script expects')
ALLOW_TW_ACK = ('linux: RFC 9293 3.10.7.4, fifth (the ACK bit on), TIME-WAIT STATE: "The only thing '
                'that can arrive in this state is a retransmission of the remote FIN. Acknowledge '
                'it, and restart the 2 MSL timeout": Linux acknowledges whatever arrives with an ACK '
                'in TIME-WAIT but an empty segment at RCV.NXT (tcp_timewait_state_process); sansnet '
                'acknowledges only the FIN\'s retransmission and drops this segment (for its text, '
                '"Ignore the segment text"), as this script expects')
ALLOW_SIMULTANEOUS_SYN_ACK = ('linux: RFC 9293 3.10.7.4: the peer\'s SYN-ACK repeats the SYN already '
                              'received (SEG.SEQ = RCV.NXT-1), and "If an incoming segment is not '
                              'acceptable, an acknowledgment should be sent in reply": Linux sends '
                              'that ACK and takes the SYN-ACK\'s acknowledgment to ESTABLISHED; '
                              'figure 7 shows no such ACK, and sansnet sends none')
ALLOW_TW_ACK_FIELD = ('linux: RFC 9293 3.10.7.4, fifth (the ACK bit on): "RFC 5961 [9] Section 5 '
                      'describes a potential blind data injection attack, and mitigation that '
                      'implementations MAY choose to include (MAY-12)": sansnet checks SEG.ACK '
                      'in TIME-WAIT too and answers an unacceptable one with an ACK, as this '
                      'script expects; Linux keeps no SND.UNA in TIME-WAIT and takes an empty '
                      'segment at RCV.NXT whatever its SEG.ACK, silently '
                      '(tcp_timewait_state_process)')
ALLOW_DUPACK_AFTER_FIN = ('linux: RFC 9293 3.10.7.4, seventh: "This should not occur since a FIN has '
                          'been received from the remote side. Ignore the segment text", and RFC '
                          '5681 4.2: "A TCP receiver SHOULD send an immediate duplicate ACK when an '
                          'out-of-order segment arrives": sansnet ignores the text and sends '
                          'nothing, as this script expects; Linux ignores the text too and sends '
                          'a duplicate ACK (ack = RCV.NXT, nothing newly acknowledged)')
ALLOWS = {
  'syn_received/active_syn_ack.tcp': ALLOW_SIMULTANEOUS_SYN_ACK,
  'time_wait/ack_field_too_new.tcp': ALLOW_TW_ACK_FIELD,
  'time_wait/ack_field_too_old.tcp': ALLOW_TW_ACK_FIELD,
  'close_wait/ack_data_seq_right.tcp': ALLOW_DUPACK_AFTER_FIN,
  'closing/ack_data_seq_right.tcp': ALLOW_DUPACK_AFTER_FIN,
  'time_wait/ack_data_seq_edge.tcp': ALLOW_TW_ACK,
  'time_wait/ack_data_seq_left.tcp': ALLOW_TW_ACK,
  'time_wait/ack_data_seq_middle.tcp': ALLOW_TW_ACK,
  'time_wait/ack_data_seq_right.tcp': ALLOW_TW_ACK,
  'time_wait/ack_seq_middle.tcp': ALLOW_TW_ACK,
  'time_wait/ack_seq_right.tcp': ALLOW_TW_ACK,
  'time_wait/ack_seq_beyond.tcp': ALLOW_TW_ACK,
  'time_wait/syn_seq_beyond.tcp': ALLOW_TW_SYN,
  'time_wait/syn_seq_middle.tcp': ALLOW_TW_SYN,
  'time_wait/rst_seq_middle.tcp': ALLOW_TW_RST,
  'time_wait/rst_seq_right.tcp': ALLOW_TW_RST,
  'time_wait/rst_ack_seq_middle.tcp': ALLOW_TW_RST,
  'time_wait/rst_ack_seq_right.tcp': ALLOW_TW_RST,
  'last_ack/ack_data_seq_left.tcp': ALLOW_DATA_AFTER_CLOSE,
}
# Where a stack does what the RFC does not allow (`# departs:`): the RFC's words, and what
# the stack does instead. Its failure is explained, not allowed (STACKS.md counts it apart).
DEPART_EDGE = ('linux: RFC 9293 3.10.7.4: a segment is acceptable if "RCV.NXT =< SEG.SEQ < '
               'RCV.NXT+RCV.WND" (or its last octet is), so SEG.SEQ = RCV.NXT+RCV.WND is outside '
               'the window; RFC 5961 3.2: "If the RST bit is set and the sequence number is outside '
               'the current receive window, silently drop the segment", and RFC 9293: "If an '
               'incoming segment is not acceptable, an acknowledgment should be sent in reply '
               '(unless the RST bit is set, if so drop the segment and return)": sansnet does '
               'that, as this script expects; Linux counts SEG.SEQ = RCV.NXT+RCV.WND in the window '
               'for every segment (tcp_sequence, and tcp_in_window for a request socket), so it '
               'answers a RST there with a challenge ACK, and drops a FIN without ACK or ignores '
               'text after a FIN without the ACK the RFC asks for')
DEPART_RST_AFTER_FIN = ('linux: RFC 5961 3.2 (RFC 9293 3.10.7.4): "If the RST bit is set and the '
                        'sequence number is outside the current receive window, silently drop '
                        'the segment": sansnet drops a RST at RCV.NXT-1, as this script expects; '
                        'Linux, once the peer\'s FIN is in, resets on a RST at RCV.NXT-1 (the '
                        'FIN\'s sequence number: tcp_reset_check, for peers that send a RST with '
                        'their FIN\'s number)')
DEPART_DATA_AFTER_FIN = ('linux: RFC 9293 3.10.7.4, seventh, CLOSE-WAIT and CLOSING: "This should '
                         'not occur since a FIN has been received from the remote side. Ignore '
                         'the segment text": sansnet ignores it, as this script expects; Linux '
                         'resets the connection on new data after the peer\'s FIN while the '
                         'application may still read (tcp_rcv_state_process, TCPAbortOnData)')
DEPART_SR_ACK = ('linux: RFC 9293 3.10.7.4, fifth, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, '
                 'then enter ESTABLISHED state ... If the segment acknowledgment is not acceptable, '
                 'form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it": sansnet sends the '
                 'reset, as this script expects; Linux in a simultaneous open sends nothing for '
                 'SEG.ACK = SND.UNA')
DEPART_SR_REFUSED = ('linux: RFC 9293 3.10.7.4, second, SYN-RECEIVED: "If this connection was '
                     'initiated with an active OPEN (i.e., came from SYN-SENT state), then the '
                     'connection was refused; signal the user \'connection refused\'": sansnet '
                     'reports ECONNREFUSED, as this script expects; Linux reports ECONNRESET '
                     '(tcp_reset refuses only in SYN-SENT)')
DEPART_SR_SYN = ('linux: RFC 9293 3.10.7.4, fourth, SYN-RECEIVED: "If the connection was initiated '
                 'with a passive OPEN, then return this connection to the LISTEN state and return": '
                 'sansnet drops the half-open connection silently, as this script expects; Linux '
                 'drops it and sends a reset (RFC 793\'s rule for a SYN in the window, '
                 'tcp_check_req)')
DEPART_SS_BAD_ACK = ('linux: RFC 9293 3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a '
                     'reset (unless the RST bit is set, if so drop the segment and return)": '
                     'sansnet drops the RST-ACK and retransmits its SYN when its timer says '
                     '(RFC 6298), as this script expects; Linux drops it and retransmits its SYN '
                     'at once (tcp_rcv_synsent_state_process rearms the timer to TCP_TIMEOUT_MIN)')
DEPART_SS_DATA = ('linux: RFC 9293 3.10.7.3: "If there are other controls or text in the segment, '
                  'then continue processing at the sixth step below where the URG bit is '
                  'checked": sansnet takes the SYN-ACK\'s text and acknowledges it, as this script '
                  'expects; Linux (without TCP Fast Open) discards it and acknowledges the SYN '
                  'only, so the peer must send it again')
DEPART_TW_NOACK = ('linux: RFC 9293 3.10.7.4, fifth: "if the ACK bit is off, drop the segment and '
                   'return": sansnet drops it, as this script expects; Linux in TIME-WAIT answers '
                   'whatever is not an empty segment at RCV.NXT with an ACK '
                   '(tcp_timewait_state_process)')
DEPART_TW_SYN_FIN = ('linux: RFC 5961 4.2 (RFC 9293 3.10.7.4): "if the SYN bit is set, irrespective '
                     'of the sequence number, TCP endpoints MUST send a \'challenge ACK\'"; RFC '
                     '1122 4.2.2.13 lets TIME-WAIT accept a new SYN to reopen only if it "returns '
                     'to TIME-WAIT state if the SYN turns out to be an old duplicate": sansnet '
                     'answers with a challenge ACK and stays in TIME-WAIT, as this script expects; '
                     'Linux takes the SYN-FIN as a reopening SYN, ends TIME-WAIT, and its listener '
                     'then drops the SYN-FIN: nothing is sent and TIME-WAIT is gone')
DEPART_CW_RESET = ('linux: RFC 9293 3.10.7.4, second, CLOSE-WAIT: "If the RST bit is set, then any '
                   'outstanding RECEIVEs and SEND should receive \'reset\' responses ... Users should '
                   'also receive an unsolicited general \'connection reset\' signal": sansnet reports '
                   'ECONNRESET, as this script expects; Linux closes the connection and reports '
                   'EPIPE (tcp_reset), which does not say that it was reset')
DEPARTS = {
  'close_wait/rst_seq_edge.tcp': DEPART_CW_RESET,
  'close_wait/rst_ack_seq_edge.tcp': DEPART_CW_RESET,
  'syn_received/passive_rst_beyond.tcp': DEPART_EDGE,
  'last_ack/ack_data_seq_beyond.tcp': DEPART_EDGE,
  'syn_received/active_ack_snd_una.tcp': DEPART_SR_ACK,
  'syn_received/active_rst_exact.tcp': DEPART_SR_REFUSED,
  'syn_received/active_rst_ack_exact.tcp': DEPART_SR_REFUSED,
  'syn_received/passive_syn_ack.tcp': DEPART_SR_SYN,
  'syn_received/passive_syn_fin.tcp': DEPART_SR_SYN,
  'syn_received/passive_syn_in_window.tcp': DEPART_SR_SYN,
  'syn_sent/rst_ack_bad.tcp': DEPART_SS_BAD_ACK,
  'syn_sent/syn_ack_data.tcp': DEPART_SS_DATA,
  'time_wait/fin_seq_edge.tcp': DEPART_TW_NOACK,
  'time_wait/syn_fin_seq_beyond.tcp': DEPART_TW_SYN_FIN,
  'time_wait/syn_fin_seq_middle.tcp': DEPART_TW_SYN_FIN,
  'close_wait/ack_data_seq_left.tcp': DEPART_DATA_AFTER_FIN,
  'closing/ack_data_seq_left.tcp': DEPART_DATA_AFTER_FIN,
}
for st in ('established', 'fin_wait_1', 'fin_wait_2', 'close_wait', 'closing', 'last_ack'):
    for kind in ('rst_seq_beyond', 'rst_ack_seq_beyond', 'fin_seq_beyond'):
        DEPARTS[f'{st}/{kind}.tcp'] = DEPART_EDGE
for st in ('close_wait', 'closing', 'last_ack'):
    for kind in ('rst_seq_left', 'rst_ack_seq_left'):
        DEPARTS[f'{st}/{kind}.tcp'] = DEPART_RST_AFTER_FIN
ALLOW_RIGHT_EDGE = ('RFC 9293 3.10.7.4: "special allowance should be made to accept valid ACKs": '
                    'sansnet and Linux (tcp_sequence) accept an empty segment at SEG.SEQ = '
                    'RCV.NXT+RCV.WND (Linux in TIME-WAIT answers it with an ACK); smoltcp holds an '
                    'empty segment at its right edge unacceptable and answers with an ACK')
def write(path, title, rfc, reqs, quote, matrix, setup, lines, note=None, config=CFG):
    global count
    full = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    # A passive open that starts with the suite's handshake says `setup: established`, and
    # the runner plays the handshake (conformance/src/script.rs, ESTABLISHED_HANDSHAKE).
    if setup == 'listen' and lines[:4] == HS:
        setup, lines = 'established', lines[4:]
    h = [f'# title: {title}', f'# rfc: {rfc}', f'# requirements: {reqs}', f'# quote: "{quote}"']
    if matrix: h.append(f'# matrix: {matrix}')
    h.append(f'# setup: {setup}')
    if path in STACKS: h.append(f'# stacks: {STACKS[path]}')
    # The suite's baseline (BASELINE_CONFIG) is stated once; a script names what it changes.
    if config != CFG: h.append(f'# config: {config}')
    if note: h.append(f'# note: {note}')
    if path in ALLOWS: h.append(f'# allows: {ALLOWS[path]}')
    if path in DEPARTS: h.append(f'# departs: {DEPARTS[path]}')
    if note and note.startswith('the allowance for valid ACKs'): h.append(f'# allows: {ALLOW_RIGHT_EDGE}')
    if path in KNOWN: h.append(f'# status: known-failure {KNOWN[path]}')
    open(full, 'w').write('\n'.join(h + lines) + '\n')
    count += 1

def where(seq, R, W):
    """SEG.SEQ relative to the receive window, as a title says it."""
    d = seq - R
    if d < 0: return f'RCV.NXT{d} (left of the window)'
    if d == 0: return 'RCV.NXT'
    if d < W - 1: return f'RCV.NXT+{d} (inside the window)'
    if d == W - 1: return 'RCV.NXT+RCV.WND-1 (the last byte of the window)'
    if d == W: return 'RCV.NXT+RCV.WND (the right edge)'
    return f'RCV.NXT+RCV.WND+{d - W} (beyond the window)'

def ack_line(N, R, t='+0'):
    return f'{t:<6}> . seq={N} ack={R} win={65536 - R}'

# ---- synchronized states --------------------------------------------------------------
for st, (setup, pre, R, U, N) in STATES.items():
    d = DIR[st]
    can_recv = st in ('ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2')
    cell = lambda k: f'{st} x {k}'
    W = 65536 - R
    # The right edge and past it are written as where they are (`edge`: the window the
    # stack last advertised), not as the number sansnet's 65535-byte window makes them:
    # another stack's window is another size (Linux's 64240).
    sq = lambda s: {R + W - 1: 'edge-1', R + W: 'edge', R + W + 1: 'edge+1'}.get(s, str(s))
    edges = [('left', R - 1), ('edge', R), ('right', R + W - 1), ('beyond', R + W), ('middle', R + 1000)]
    # ACK: pure ACK, acking nothing new (ack=U), at each sequence edge, and one past the
    # right edge. An empty segment exactly at RCV.NXT+RCV.WND is acceptable: it is what a peer
    # whose data fills our window sends (SEG.SEQ = its SND.NXT), and Linux accepts it too.
    for name, seq in edges + [('past', R + W + 1)]:
        acceptable = R <= seq <= R + W
        note = None
        lines = list(pre) + [f'+0.1  < . seq={sq(seq)} ack={U} win=65535']
        if seq == R + W:
            lines.append('+0    expect nothing until +0.5')
            q = "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be made to accept valid ACKs, URGs, and RSTs"
            note = ('the allowance for valid ACKs taken at the right edge: an empty segment at '
                    'SEG.SEQ = RCV.NXT+RCV.WND is accepted (as Linux does, tcp_sequence), since a '
                    'peer that has filled the window sends its ACKs there')
        elif acceptable:
            lines.append('+0    expect nothing until +0.5')
            q = "If the RCV.WND is not zero: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND (the segment is acceptable)"
        else:
            lines.append(ack_line(N, R))
            q = Q_UNACC
        lines.append(f'      expect state {st}')
        write(f'{d}/ack_seq_{name}.tcp', f'{st}: ACK without data, SEG.SEQ = {where(seq, R, W)}: {"acceptable" if acceptable else "not acceptable"}',
              '9293 3.10.7.4', 'none', q, cell('ACK'), setup, lines, note)
    # ACK with data at each edge.
    for name, seq in edges:
        ln = 10
        lines = list(pre) + [f'+0.1  < . seq={sq(seq)} ack={U} win=65535 len={ln}']
        overl = seq < R < seq + ln
        acceptable = (R <= seq < R + W) or (R <= seq + ln - 1 < R + W)
        if not acceptable:
            lines.append(ack_line(N, R)); q = Q_UNACC
        elif not can_recv:
            lines.append('+0    expect nothing until +0.5'); q = Q_DATA_AFTER_FIN
        elif seq == R or overl:
            end = seq + ln
            lines.append(f'+0.2~0.2 > . seq={N} ack={end} win=*')
            q = "TCP SHOULD implement a delayed ACK, but an ACK should not be excessively delayed; in particular, the delay MUST be less than 0.5 seconds"
        else:
            lines.append(ack_line(N, R).replace('win=65535', 'win=*'))
            q = "A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-order segment arrives"
        lines.append(f'      expect state {st}')
        reqs = 'MUST-40' if (acceptable and can_recv and (seq == R or overl)) else ('MAY-13' if acceptable and can_recv else 'none')
        write(f'{d}/ack_data_seq_{name}.tcp', f'{st}: ACK with {ln} bytes, SEG.SEQ = {where(seq, R, W)}',
              '9293 3.10.7.4; 5681 4.2', reqs, q, cell('ACK'), setup, lines)
    # ACK field acceptability (RFC 5961 section 5).
    for name, ack, ok in [('too_new', N + 1, False), ('too_old', U - W - 1000, False), ('snd_una', U, True)]:
        lines = list(pre) + [f'+0.1  < . seq={R} ack={ack} win=65535']
        if ok:
            lines.append('+0    expect nothing until +0.5')
            q = "SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT (the ACK is acceptable)"
        else:
            lines.append(ack_line(N, R))
            q = "All incoming segments whose ACK value doesn't satisfy the above condition MUST be discarded and an ACK sent back"
        lines.append(f'      expect state {st}')
        write(f'{d}/ack_field_{name}.tcp', f'{st}: SEG.ACK {name.replace("_", " ")} ({"acceptable" if ok else "challenge ACK"})',
              '5961 5.2; 9293 3.10.7.4', 'RFC5961-5.2, MAY-12', q, cell('ACK'), setup, lines)
    # RST and RST-ACK at each edge.
    for flags, kind in (('R', 'RST'), ('R.', 'RST-ACK')):
        for name, seq in edges:
            ackf = f' ack={U}' if flags == 'R.' else ''
            lines = list(pre) + [f'+0.1  < {flags} seq={sq(seq)}{ackf} win=0']
            reqs = 'RFC5961-3.2'
            if seq == R:
                q = Q_RST_EXACT
                if st == 'TIME-WAIT':
                    lines += ['+0    expect nothing until +0.5', '      expect state TIME-WAIT']
                    reqs = 'RFC1337, RFC5961-3.2'
                    q = "TIME-WAIT state: ignore RST segments (fix TW-assassination hazards)"
                elif st in ('CLOSING', 'LAST-ACK'):
                    lines += ['      expect state CLOSED', '+0    expect nothing until +0.5']
                else:
                    lines += ['      expect state CLOSED', '      expect event Failed(ECONNRESET)',
                              '      call send(10) = ECONNRESET', '+0    expect nothing until +0.5']
                    reqs = 'RFC5961-3.2, MUST-12'
            elif R <= seq < R + W:
                lines += [ack_line(N, R), f'      expect state {st}']
                q = Q_RST_WIN
            else:
                lines += ['+0    expect nothing until +0.5', f'      expect state {st}']
                q = Q_RST_OUT
            write(f'{d}/{kind.lower().replace("-", "_")}_seq_{name}.tcp', f'{st}: {kind} with SEG.SEQ = {where(seq, R, W)}',
                  '5961 3.2; 9293 3.10.7.4', reqs, q, cell(kind), setup, lines)
    # SYN, SYN-ACK, SYN-FIN: challenge ACK wherever they land.
    for flags, kind in (('S', 'SYN'), ('S.', 'SYN-ACK'), ('SF', 'SYN-FIN')):
        for name, seq in [('edge', R), ('middle', R + 1000), ('left', R - 1), ('beyond', R + W + 100)]:
            ackf = f' ack={U}' if '.' in flags else ''
            lines = list(pre) + [f'+0.1  < {flags} seq={sq(seq)}{ackf} win=65535 <mss 1460>']
            lines += [ack_line(N, R), f'      expect state {st}']
            inwin = R <= seq < R + W
            write(f'{d}/{kind.lower().replace("-", "_")}_seq_{name}.tcp', f'{st}: {kind} with SEG.SEQ = {where(seq, R, W)} draws an ACK',
                  '5961 4.2; 9293 3.10.7.4', 'RFC5961-4.2' if inwin else 'none', Q_SYN if inwin else Q_UNACC, cell(kind), setup, lines)
    # FIN without ACK: dropped (fifth step), unless out of window (first step: ACK).
    for name, seq in [('edge', R), ('beyond', R + W)]:
        lines = list(pre) + [f'+0.1  < F seq={sq(seq)} win=65535']
        if name == 'edge':
            lines += ['+0    expect nothing until +0.5', f'      expect state {st}']; q = Q_NOACK
        else:
            lines += [ack_line(N, R), f'      expect state {st}']; q = Q_UNACC
        write(f'{d}/fin_seq_{name}.tcp', f'{st}: FIN without ACK, SEG.SEQ = {where(seq, R, W)}', '9293 3.10.7.4', 'none', q, cell('FIN'), setup, lines)

# ---- FIN-ACK and the ACK of our FIN in the synchronized states --------------------------
Q_FIN = "If the FIN bit is set, signal the user 'connection closing' and return any pending RECEIVEs with same message, advance RCV.NXT over the FIN, and send an acknowledgment for the FIN"
fa = {
  'ESTABLISHED': [
    ('in_order', ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=1 ack=2', '      expect state CLOSE-WAIT', '      expect event PeerClosed', '      call recv(10) = 0'], "ESTABLISHED STATE: Enter the CLOSE-WAIT state", 'MAY-1'),
    ('with_data', ['+0.1  < F. seq=1 ack=1 win=65535 len=10', '+0~0.2 > . seq=1 ack=12   # at once, or delayed as any ACK may be (RFC 9293 3.8.6.3: under 0.5 s; Linux delays it); what it acknowledges is the subject', '      expect state CLOSE-WAIT', '      call recv(100) = "abcdefghij"', '      call recv(100) = 0'], Q_FIN, 'none'),
    ('seq_left', ['+0.1  < F. seq=0 ack=1 win=65535', '+0    > . seq=1 ack=1', '      expect state ESTABLISHED'], Q_UNACC, 'none'),
    ('seq_beyond', ['+0.1  < F. seq=65536 ack=1 win=65535', '+0    > . seq=1 ack=1', '      expect state ESTABLISHED'], Q_UNACC, 'none'),
    ('out_of_order', ['+0.1  < F. seq=11 ack=1 win=65535', '+0    > . seq=1 ack=1', '      expect state ESTABLISHED', '+0.1  < . seq=1 ack=1 win=65535 len=10', '+0    > . seq=1 ack=12', '      expect state CLOSE-WAIT'], "A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-order segment arrives; the FIN is processed once the data before it is in", 'SHLD-31'),
  ],
  'FIN-WAIT-1': [
    ('acks_our_fin', ['+0.1  < F. seq=1 ack=2 win=65535', '+0    > . seq=2 ack=2', '      expect state TIME-WAIT'], "FIN-WAIT-1 STATE: If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT, start the time-wait timer, turn off the other timers", 'none'),
    ('simultaneous_close', ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=2 ack=2', '      expect state CLOSING'], "FIN-WAIT-1 STATE: If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...; otherwise, enter the CLOSING state", 'none'),
  ],
  'FIN-WAIT-2': [
    ('in_order', ['+0.1  < F. seq=1 ack=2 win=65535', '+0    > . seq=2 ack=2', '      expect state TIME-WAIT'], "FIN-WAIT-2 STATE: Enter the TIME-WAIT state. Start the time-wait timer, turn off the other timers.", 'none'),
    ('with_data', ['+0.1  < F. seq=1 ack=2 win=65535 len=5', '+0    > . seq=2 ack=7', '      expect state TIME-WAIT', '      call recv(10) = "abcde"'], Q_FIN, 'MAY-1'),
  ],
  'CLOSE-WAIT': [
    ('retransmitted', ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=1 ack=2', '      expect state CLOSE-WAIT'], Q_UNACC, 'none'),
  ],
  'CLOSING': [
    ('retransmitted', ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=2 ack=2', '      expect state CLOSING'], "CLOSING STATE: Remain in the CLOSING state.", 'none'),
  ],
  'LAST-ACK': [
    ('retransmitted', ['+0.1  < F. seq=1 ack=1 win=65535', '+0    > . seq=2 ack=2', '      expect state LAST-ACK'], "LAST-ACK STATE: Remain in the LAST-ACK state.", 'none'),
  ],
  'TIME-WAIT': [
    ('retransmitted', ['+0.1  < F. seq=1 ack=2 win=65535', '+0    > . seq=2 ack=2', '      expect state TIME-WAIT'], "TIME-WAIT STATE: Remain in the TIME-WAIT state. Restart the 2 MSL time-wait timeout.", 'MUST-13'),
  ],
}
for st, variants in fa.items():
    setup, pre, R, U, N = STATES[st]
    for name, body, q, reqs in variants:
        write(f'{DIR[st]}/fin_ack_{name}.tcp', f'{st}: FIN-ACK, {name.replace("_", " ")}', '9293 3.10.7.4; 9293 3.6', reqs, q, f'{st} x FIN-ACK', setup, list(pre) + body)
acks_fin = {
  'FIN-WAIT-1': (['+0.1  < . seq=1 ack=2 win=65535', '      expect state FIN-WAIT-2', '+0    expect nothing until +0.5'], "FIN-WAIT-1 STATE: if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and continue processing in that state"),
  'CLOSING': (['+0.1  < . seq=2 ack=2 win=65535', '      expect state TIME-WAIT'], "CLOSING STATE: if the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the segment"),
  'LAST-ACK': (['+0.1  < . seq=2 ack=2 win=65535', '      expect state CLOSED', '      expect event Closed'], "LAST-ACK STATE: If our FIN is now acknowledged, delete the TCB, enter the CLOSED state, and return"),
}
for st, (body, q) in acks_fin.items():
    setup, pre, R, U, N = STATES[st]
    write(f'{DIR[st]}/ack_of_our_fin.tcp', f'{st}: the ACK of our FIN', '9293 3.10.7.4', 'none', q, f'{st} x ACK', setup, list(pre) + body)

# ---- CLOSED ---------------------------------------------------------------------------------
Q_CLOSED = "An incoming segment not containing a RST causes a RST to be sent in response ... If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; if the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
closed = [
  ('syn', 'SYN', ['+0  < S seq=0 win=65535 <mss 1460>', '+0  > R. seq=raw:0 ack=1 win=0']),
  ('syn_data', 'SYN', ['+0  < S seq=0 win=65535 len=5', '+0  > R. seq=raw:0 ack=6']),
  ('syn_ack', 'SYN-ACK', ['+0  < S. seq=0 ack=raw:5000 win=65535', '+0  > R seq=raw:5000']),
  ('syn_fin', 'SYN-FIN', ['+0  < SF seq=0 win=65535', '+0  > R. seq=raw:0 ack=2']),
  ('ack', 'ACK', ['+0  < . seq=100 ack=raw:5000 win=65535', '+0  > R seq=raw:5000']),
  ('ack_data', 'ACK', ['+0  < P. seq=100 ack=raw:5000 win=65535 len=20', '+0  > R seq=raw:5000 len=0']),
  ('fin', 'FIN', ['+0  < F seq=100 win=65535', '+0  > R. seq=raw:0 ack=101']),
  ('fin_data', 'FIN', ['+0  < F seq=100 win=65535 len=9', '+0  > R. seq=raw:0 ack=110']),
  ('fin_ack', 'FIN-ACK', ['+0  < F. seq=100 ack=raw:5000 win=65535', '+0  > R seq=raw:5000']),
  ('rst', 'RST', ['+0  < R seq=100 win=0', '+0  expect nothing until +0.5']),
  ('rst_ack', 'RST-ACK', ['+0  < R. seq=100 ack=raw:5000 win=0', '+0  expect nothing until +0.5']),
]
for name, kind, body in closed:
    q = "An incoming segment containing a RST is discarded" if 'RST' in kind else Q_CLOSED
    write(f'closed/{name}.tcp', f'CLOSED: {kind}{" with data" if "data" in name else ""}', '9293 3.10.7.1', 'none', q, f'CLOSED x {kind}', 'closed', body + ['      expect state CLOSED'])

# ---- LISTEN ---------------------------------------------------------------------------------
Q_L_ACK = "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state. An acceptable reset segment should be formed for any arriving ACK-bearing segment: <SEQ=SEG.ACK><CTL=RST>"
listen = [
  ('syn', 'SYN', ['+0  < S seq=0 win=65535 <mss 1460>', '+0  > S. seq=0 ack=1 <mss 1460>', '    expect state SYN-RECEIVED'], "If the SYN bit is set ... RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ ... <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>", 'none'),
  ('syn_data', 'SYN', ['+0  < S seq=0 win=65535 len=10 <mss 1460>', '+0  > S. seq=0 ack=1 <mss 1460>', '    expect state SYN-RECEIVED',
                       '+0.1 < . seq=1 ack=1 win=65535', '    expect state ESTABLISHED', '+0.1 < P. seq=1 ack=1 win=65535 len=10', '+0.2~0.2 > . seq=1 ack=11', '    call recv(20) = "abcdefghij"'],
     "Data on the SYN is not acknowledged by the SYN-ACK (sansnet's choice: the peer retransmits it once established)", 'none'),
  ('syn_ack', 'SYN-ACK', ['+0  < S. seq=0 ack=raw:5000 win=65535', '+0  > R seq=raw:5000', '    expect state LISTEN'], Q_L_ACK, 'none'),
  ('syn_fin', 'SYN-FIN', ['+0  < SF seq=0 win=65535', '+0  expect nothing until +0.5', '    expect state LISTEN'], "SYN+FIN is not a connection request: dropped (sansnet and Linux; RFC 9293 does not process FIN in LISTEN)", 'none'),
  ('ack', 'ACK', ['+0  < . seq=1 ack=raw:5000 win=65535', '+0  > R seq=raw:5000', '    expect state LISTEN'], Q_L_ACK, 'none'),
  ('ack_data', 'ACK', ['+0  < P. seq=1 ack=raw:5000 win=65535 len=10', '+0  > R seq=raw:5000', '    expect state LISTEN'], Q_L_ACK, 'none'),
  ('fin', 'FIN', ['+0  < F seq=1 win=65535', '+0  expect nothing until +0.5', '    expect state LISTEN'], "Any other control or text-bearing segment (not containing SYN) must have an ACK and thus would be discarded by the ACK processing", 'none'),
  ('fin_ack', 'FIN-ACK', ['+0  < F. seq=1 ack=raw:5000 win=65535', '+0  > R seq=raw:5000', '    expect state LISTEN'], Q_L_ACK, 'none'),
  ('rst', 'RST', ['+0  < R seq=1 win=0', '+0  expect nothing until +0.5', '    expect state LISTEN'], "An incoming RST segment could not be valid since it could not have been sent in response to anything sent by this incarnation of the connection. An incoming RST should be ignored.", 'none'),
  ('rst_ack', 'RST-ACK', ['+0  < R. seq=1 ack=raw:5000 win=0', '+0  expect nothing until +0.5', '    expect state LISTEN'], "An incoming RST should be ignored", 'none'),
]
for name, kind, body, q, reqs in listen:
    write(f'listen/{name}.tcp', f'LISTEN: {kind}{" with data" if "data" in name else ""}', '9293 3.10.7.2', reqs, q, f'LISTEN x {kind}', 'listen', body)

# ---- SYN-SENT -------------------------------------------------------------------------------
SS = ['+0  > S seq=0 <mss 1460>', '    expect state SYN-SENT']
Q_SS_ACK = "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>"
synsent = [
  ('syn', 'SYN', ['+0.1 < S seq=0 win=65535 <mss 1460>', '+0  > S. seq=0 ack=1 <mss 1460>', '    expect state SYN-RECEIVED', '+0.1 < . seq=1 ack=1 win=65535', '    expect state ESTABLISHED', '    expect event Connected'],
     "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it", 'MUST-10'),
  ('syn_ack', 'SYN-ACK', ['+0.1 < S. seq=0 ack=1 win=65535 <mss 1460>', '+0  > . seq=1 ack=1', '    expect state ESTABLISHED', '    expect event Connected'],
     "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it", 'none'),
  ('syn_ack_data', 'SYN-ACK', ['+0.1 < S. seq=0 ack=1 win=65535 len=10 <mss 1460>', '+0  > . seq=1 ack=11', '    expect state ESTABLISHED', '    call recv(20) = "abcdefghij"'],
     "If there are other controls or text in the segment, then continue processing at the sixth step below where the URG bit is checked", 'none'),
  ('syn_ack_ack_iss', 'SYN-ACK', ['+0.1 < S. seq=0 ack=0 win=65535', '+0  > R seq=0', '    expect state SYN-SENT'], Q_SS_ACK, 'none'),
  ('syn_ack_ack_too_new', 'SYN-ACK', ['+0.1 < S. seq=0 ack=2 win=65535', '+0  > R seq=2', '    expect state SYN-SENT'], Q_SS_ACK, 'none'),
  ('syn_ack_ack_far', 'SYN-ACK', ['+0.1 < S. seq=0 ack=-1000 win=65535', '+0  > R seq=-1000', '    expect state SYN-SENT'], Q_SS_ACK, 'none'),
  ('syn_fin', 'SYN-FIN', ['+0.1 < SF seq=0 win=65535 <mss 1460>', '+0  > S. seq=0 ack=1', '    expect state SYN-RECEIVED'], "Do not process the FIN if the state is CLOSED, LISTEN, or SYN-SENT since the SEG.SEQ cannot be validated", 'none'),
  ('ack', 'ACK', ['+0.1 < . seq=1 ack=1 win=65535', '+0  expect nothing until +0.5', '    expect state SYN-SENT'], "If neither of the SYN or RST bits is set, then drop the segment and return", 'none'),
  ('ack_bad', 'ACK', ['+0.1 < . seq=1 ack=5 win=65535', '+0  > R seq=5', '    expect state SYN-SENT'], Q_SS_ACK, 'none'),
  ('fin', 'FIN', ['+0.1 < F seq=1 win=65535', '+0  expect nothing until +0.5', '    expect state SYN-SENT'], "If neither of the SYN or RST bits is set, then drop the segment and return", 'none'),
  ('fin_ack', 'FIN-ACK', ['+0.1 < F. seq=1 ack=1 win=65535', '+0  expect nothing until +0.5', '    expect state SYN-SENT'], "If neither of the SYN or RST bits is set, then drop the segment and return", 'none'),
  ('fin_ack_bad', 'FIN-ACK', ['+0.1 < F. seq=1 ack=7 win=65535', '+0  > R seq=7', '    expect state SYN-SENT'], Q_SS_ACK, 'none'),
  ('rst', 'RST', ['+0.1 < R seq=0 win=0', '+0  expect nothing until +0.5', '    expect state SYN-SENT'], "If the RST bit is set ... Otherwise (no ACK), drop the segment and return", 'none'),
  ('rst_ack', 'RST-ACK', ['+0.1 < R. seq=0 ack=1 win=0', '    expect state CLOSED', '    expect event Failed(ECONNREFUSED)', '    call send(10) = ECONNREFUSED', '+0  expect nothing until +3'], "If the ACK was acceptable, then signal to the user 'error: connection reset', drop the segment, enter CLOSED state, delete TCB, and return", 'MUST-12'),
  ('rst_ack_bad', 'RST-ACK', ['+0.1 < R. seq=0 ack=9 win=0', '+0  expect nothing until +0.5', '    expect state SYN-SENT'], Q_SS_ACK, 'none'),
]
for name, kind, body, q, reqs in synsent:
    write(f'syn_sent/{name}.tcp', f'SYN-SENT: {kind} ({name.replace("_", " ")})', '9293 3.10.7.3', reqs, q, f'SYN-SENT x {kind}', 'connect', SS + body)

# ---- SYN-RECEIVED from LISTEN and from SYN-SENT ----------------------------------------------
SRP = ['+0  < S seq=0 win=65535 <mss 1460>', '+0  > S. seq=0 ack=1 win=65535 <mss 1460>', '    expect state SYN-RECEIVED']
SRA = ['+0  > S seq=0 <mss 1460>', '+0.1 < S seq=0 win=65535 <mss 1460>', '+0  > S. seq=0 ack=1 win=65535 <mss 1460>', '    expect state SYN-RECEIVED']
Q_SR_ACK = "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it"
Q_SR_RST_P = "If this connection was initiated with a passive OPEN (i.e., came from the LISTEN state), then return this connection to the LISTEN state and return"
Q_SR_RST_A = "If this connection was initiated with an active OPEN (i.e., came from SYN-SENT state), then the connection was refused; signal the user 'connection refused'"
synrcvd = {
 'passive': (SRP, 'listen', [
  ('ack', 'ACK', ['+0.1 < . seq=1 ack=1 win=65535', '    expect state ESTABLISHED', '    expect event Connected', '+0  expect nothing until +0.5'], Q_SR_ACK, 'none'),
  ('ack_data', 'ACK', ['+0.1 < P. seq=1 ack=1 win=65535 len=10', '+0.2~0.2 > . seq=1 ack=11', '    expect state ESTABLISHED', '    call recv(20) = "abcdefghij"'], Q_SR_ACK, 'none'),
  ('ack_snd_una', 'ACK', ['+0.1 < . seq=1 ack=0 win=65535', '+0  > R seq=0', '    expect state SYN-RECEIVED'], Q_SR_ACK, 'none'),
  ('ack_too_new', 'ACK', ['+0.1 < . seq=1 ack=2 win=65535', '+0  > R seq=2', '    expect state SYN-RECEIVED'], Q_SR_ACK, 'none'),
  ('ack_far', 'ACK', ['+0.1 < . seq=1 ack=100000 win=65535', '+0  > R seq=100000', '    expect state SYN-RECEIVED'], Q_SR_ACK, 'none'),
  ('ack_seq_left', 'ACK', ['+0.1 < . seq=0 ack=1 win=65535', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], Q_UNACC, 'none'),
  ('ack_seq_beyond', 'ACK', ['+0.1 < . seq=edge ack=1 win=65535', '    expect state ESTABLISHED'], Q_SR_ACK, 'none'),
  ('ack_seq_past', 'ACK', ['+0.1 < . seq=edge+1 ack=1 win=65535', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], Q_UNACC, 'none'),
  ('ack_seq_right_edge', 'ACK', ['+0.1 < . seq=edge-1 ack=1 win=65535', '    expect state ESTABLISHED'], Q_SR_ACK, 'none'),
  ('syn_retransmitted', 'SYN', ['+0.5 < S seq=0 win=65535 <mss 1460>', '+0  > S. seq=0 ack=1 <mss 1460>', '    expect state SYN-RECEIVED'], "A retransmitted SYN: the SYN-ACK was lost, so it is sent again", 'none'),
  ('syn_in_window', 'SYN', ['+0.1 < S seq=1000 win=65535', '+0  expect nothing until +0.5', '    expect state LISTEN'], "SYN-RECEIVED STATE: If the connection was initiated with a passive OPEN, then return this connection to the LISTEN state and return", 'MUST-11'),
  ('syn_ack', 'SYN-ACK', ['+0.1 < S. seq=1000 ack=1 win=65535', '+0  expect nothing until +0.5', '    expect state LISTEN'], "SYN-RECEIVED STATE: If the connection was initiated with a passive OPEN, then return this connection to the LISTEN state and return", 'MUST-11'),
  ('syn_fin', 'SYN-FIN', ['+0.1 < SF seq=1000 win=65535', '+0  expect nothing until +0.5', '    expect state LISTEN'], "SYN-RECEIVED STATE: If the connection was initiated with a passive OPEN, then return this connection to the LISTEN state and return", 'MUST-11'),
  ('fin', 'FIN', ['+0.1 < F seq=1 win=65535', '+0  expect nothing until +0.5', '    expect state SYN-RECEIVED'], Q_NOACK, 'none'),
  ('fin_ack', 'FIN-ACK', ['+0.1 < F. seq=1 ack=1 win=65535', '+0  > . seq=1 ack=2', '    expect state CLOSE-WAIT'], "SYN-RECEIVED STATE ... ESTABLISHED STATE: Enter the CLOSE-WAIT state", 'none'),
  ('rst_exact', 'RST', ['+0.1 < R seq=1 win=0', '+0  expect nothing until +0.5', '    expect state LISTEN'], Q_SR_RST_P, 'MUST-11, RFC5961-3.2'),
  ('rst_in_window', 'RST', ['+0.1 < R seq=100 win=0', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], Q_RST_WIN, 'RFC5961-3.2'),
  ('rst_beyond', 'RST', ['+0.1 < R seq=edge win=0', '+0  expect nothing until +0.5', '    expect state SYN-RECEIVED'], Q_RST_OUT, 'RFC5961-3.2'),
  ('rst_left', 'RST', ['+0.1 < R seq=0 win=0', '+0  expect nothing until +0.5', '    expect state SYN-RECEIVED'], Q_RST_OUT, 'RFC5961-3.2'),
  ('rst_ack_exact', 'RST-ACK', ['+0.1 < R. seq=1 ack=1 win=0', '+0  expect nothing until +0.5', '    expect state LISTEN'], Q_SR_RST_P, 'MUST-11, RFC5961-3.2'),
  ('rst_ack_in_window', 'RST-ACK', ['+0.1 < R. seq=5000 ack=1 win=0', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], Q_RST_WIN, 'RFC5961-3.2'),
 ]),
 'active': (SRA, 'connect', [
  ('ack', 'ACK', ['+0.1 < . seq=1 ack=1 win=65535', '    expect state ESTABLISHED', '    expect event Connected'], Q_SR_ACK, 'MUST-10'),
  ('ack_too_new', 'ACK', ['+0.1 < . seq=1 ack=2 win=65535', '+0  > R seq=2', '    expect state SYN-RECEIVED'], Q_SR_ACK, 'MUST-10'),
  ('ack_snd_una', 'ACK', ['+0.1 < . seq=1 ack=0 win=65535', '+0  > R seq=0', '    expect state SYN-RECEIVED'], Q_SR_ACK, 'MUST-10'),
  ('syn_ack', 'SYN-ACK', ['+0.1 < S. seq=0 ack=1 win=65535 <mss 1460>', '    expect state ESTABLISHED', '+0  expect nothing until +0.5'], "Simultaneous connection synchronization (figure 7): the peer's SYN,ACK completes the open", 'MUST-10'),
  ('syn_in_window', 'SYN', ['+0.1 < S seq=1000 win=65535', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], "SYN-RECEIVED STATE: ... Otherwise, handle per the directions for synchronized states below (challenge ACK)", 'MUST-11, RFC5961-4.2'),
  ('syn_fin', 'SYN-FIN', ['+0.1 < SF seq=1000 win=65535', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], "SYN-RECEIVED STATE: ... Otherwise, handle per the directions for synchronized states below (challenge ACK)", 'MUST-11'),
  ('fin_ack', 'FIN-ACK', ['+0.1 < F. seq=1 ack=1 win=65535', '+0  > . seq=1 ack=2', '    expect state CLOSE-WAIT'], "ESTABLISHED STATE: Enter the CLOSE-WAIT state", 'MUST-10'),
  ('fin', 'FIN', ['+0.1 < F seq=1 win=65535', '+0  expect nothing until +0.5', '    expect state SYN-RECEIVED'], Q_NOACK, 'none'),
  ('rst_exact', 'RST', ['+0.1 < R seq=1 win=0', '    expect state CLOSED', '    expect event Failed(ECONNREFUSED)', '+0  expect nothing until +3'], Q_SR_RST_A, 'MUST-11, MUST-12, RFC5961-3.2'),
  ('rst_ack_exact', 'RST-ACK', ['+0.1 < R. seq=1 ack=1 win=0', '    expect state CLOSED', '    expect event Failed(ECONNREFUSED)'], Q_SR_RST_A, 'MUST-11, RFC5961-3.2'),
  ('rst_in_window', 'RST', ['+0.1 < R seq=300 win=0', '+0  > . seq=1 ack=1', '    expect state SYN-RECEIVED'], Q_RST_WIN, 'RFC5961-3.2'),
 ]),
}
for origin, (pre, setup, variants) in synrcvd.items():
    for name, kind, body, q, reqs in variants:
        write(f'syn_received/{origin}_{name}.tcp', f'SYN-RECEIVED (from {"LISTEN" if origin == "passive" else "SYN-SENT"}): {kind} ({name.replace("_", " ")})', '9293 3.10.7.4; 9293 3.5', reqs, q, f'SYN-RECEIVED x {kind}', setup, pre + body)
print(count)
