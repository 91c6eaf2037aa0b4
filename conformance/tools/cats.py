import os
ROOT = os.environ.get('SCRIPTS_DIR', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts'))
HS='''+0    < S seq=0 win=65535 <mss 1460>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535
      expect state ESTABLISHED'''
NOOPT='timestamps=off sack=off wscale=off'
# Scripts for some runners only (`# stacks:`), with the reason.
STACKS = {
  'icmp/soft_error_not_fatal.tcp': 'engine; the host has no call that reads the soft error an ICMP message leaves (take_error returns only SO_ERROR)',
  'icmp/source_quench_ignored.tcp': 'engine; the host has no call that reads the soft error an ICMP message leaves (take_error returns only SO_ERROR)',
  'rst/abort_sends_rst.tcp': 'engine; the host reports no error to an application that aborted (closed) its own socket; only the engine has the Failed(ECONNABORTED) event',
  'rto/r1_r2.tcp': "engine; the host's socket API has no PathTrouble (R1) notification",
  'urgent/urgent_pointer.tcp': "engine; the host's socket API has no urgent-data call or event",
  'urgent/long_urgent.tcp': "engine; the host's socket API has no urgent-data call or event",
}
def S(path, title, rfc, reqs, quote, body, setup='listen', config=NOOPT, extra=''):
    h=f'# title: {title}\n# rfc: {rfc}\n# requirements: {reqs}\n# quote: "{quote}"\n# setup: {setup}\n'
    if path in STACKS: h+=f'# stacks: {STACKS[path]}\n'
    if config: h+=f'# config: {config}\n'
    if extra: h+=extra.strip()+'\n'
    p=os.path.join(ROOT,path); os.makedirs(os.path.dirname(p),exist_ok=True)
    open(p,'w').write(h+body.strip('\n')+'\n')

# ---------------- handshake
S('handshake/active_open_options.tcp','active open with every option: SYN, SYN-ACK, ACK; options negotiated',
  '9293 3.5; 9293 3.10.7.3; 7323 2.2; 7323 3.2; 2018 2','MUST-14, MAY-3, RFC7323-2.2, RFC7323-3.2, RFC2018-2',
  'TCP implementations MUST support both sending and receiving the MSS Option',
  '''+0    > S seq=0 win=65535 <mss 1460, sackOK, ts val 0 ecr 0, nop, wscale *>
+0.05 < S. seq=0 ack=1 win=65535 <mss 1400, sackOK, ts val 1000 ecr 0, nop, wscale 7>
+0    > . seq=1 ack=1 <ts val 50 ecr 1000>
      expect state ESTABLISHED
      expect event Connected''', setup='connect', config='')
S('handshake/passive_open_options.tcp','passive open answers each option the peer offered, and only those',
  '9293 3.5; 7323 2.2; 7323 3.2; 2018 2','RFC7323-2.2, RFC7323-3.2, RFC2018-2, MUST-14',
  'the Window Scale option is sent in a <SYN,ACK> segment only if the corresponding option was received in the initial <SYN> segment',
  '''+0    < S seq=0 win=65535 <mss 1460, sackOK, ts val 700 ecr 0, nop, wscale 2>
+0    > S. seq=0 ack=1 win=65535 <mss 1460, sackOK, ts val 0 ecr 700, wscale *>
+0.1  < . seq=1 ack=1 win=1000 <ts val 800 ecr 0>
      expect state ESTABLISHED''', config='')
S('handshake/passive_open_no_options.tcp','a SYN without options gets a SYN-ACK with MSS only',
  '9293 3.7.1; 7323 2.2; 7323 3.2; 2018 2','RFC7323-2.2, RFC7323-3.2, RFC2018-2, MAY-3',
  'TCP implementations MAY send an MSS Option in every SYN segment when its receive MSS differs from the default',
  '''+0    < S seq=0 win=65535
+0    > S. seq=0 ack=1 win=65535 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535
      expect state ESTABLISHED''', config='')
S('handshake/simultaneous_open.tcp','simultaneous open: SYN-SENT, SYN-RECEIVED, ESTABLISHED (figure 7)',
  '9293 3.5','MUST-10, MUST-11',
  'A TCP implementation MUST support simultaneous open attempts',
  '''+0    > S seq=0 <mss 1460>
+0.1  < S seq=0 win=65535 <mss 1460>
+0    > S. seq=0 ack=1 <mss 1460>
      expect state SYN-RECEIVED
+0.1  < S. seq=0 ack=1 win=65535 <mss 1460>
      expect state ESTABLISHED
      call send(10) = 10
+0    > P. seq=1 ack=1 len=10''', setup='connect')

# ---------------- rst generation / processing
S('rst/abort_sends_rst.tcp','ABORT in ESTABLISHED sends RST <SEQ=SND.NXT> and closes',
  '9293 3.10.5','MUST-12','send a reset segment: <SEQ=SND.NXT><CTL=RST>',
  HS+'''
+0.1  call send(100) = 100
+0    > P. seq=1 ack=1 len=100
+0.1  call abort() = 0
+0    > R seq=101
      expect state CLOSED
      expect event Failed(ECONNABORTED)''')
S('rst/close_with_unread_data.tcp','CLOSE with received data unread sends RST instead of FIN',
  '1122 4.2.2.13; 9293 3.6.1','SHLD-3, RFC1122-4.2.2.13',
  'If such a host issues a CLOSE call while received data is still pending in TCP ... its TCP SHOULD send a RST to show that data was lost',
  HS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=10
+0.04 > . seq=1 ack=11
+0.1  call close() = 0
+0    > R seq=1
      expect state CLOSED''')
S('rst/data_after_close.tcp','data arriving after CLOSE draws a RST',
  '1122 4.2.2.13','SHLD-3, RFC1122-4.2.2.13',
  'or if new data is received after CLOSE is called, its TCP SHOULD send a RST to show that data was lost',
  HS+'''
+0.1  call close() = 0
+0    > F. seq=1 ack=1
+0.1  < P. seq=1 ack=2 win=65535 len=10
+0    > R seq=2
      expect state CLOSED''')
S('rst/rst_with_data.tcp','a RST carrying data is accepted and resets the connection',
  '9293 3.5.3','SHLD-2','TCP implementations SHOULD allow a received RST segment to include data',
  HS+'''
+0.1  < R. seq=1 ack=1 win=0 data="connection refused by application"
      expect state CLOSED
      expect event Failed(ECONNRESET)
+0    expect nothing until +1''')
S('rst/challenge_ack_rate_limit.tcp','challenge ACKs are rate-limited per second',
  '5961 7','RFC5961-7, RFC5961-3.2','An implementation SHOULD include an ACK throttling mechanism to be conservative',
  HS+'''
+0.1  < R seq=100 win=0
+0    > . seq=1 ack=1
+0.01 < R seq=200 win=0
+0    > . seq=1 ack=1
+0.01 < R seq=300 win=0
+0.01 < S seq=400 win=0
+0    expect nothing until +0.5
+0.5  < R seq=500 win=0
+0    > . seq=1 ack=1''', config=NOOPT+' challenge_ack_limit=2')
S('rst/reset_then_calls_fail.tcp','after a RST, sends and receives fail with ECONNRESET and nothing more is sent',
  '9293 3.10.7.4; 9293 3.6','MUST-12','TCP implementations MUST inform the application of a connection abort',
  HS+'''
+0.1  call send(100) = 100
+0    > P. seq=1 ack=1 len=100
+0.05 < R seq=1 win=0
      expect state CLOSED
      call send(1) = ECONNRESET
      call recv(1) = ECONNRESET
+0    expect nothing until +5''')

# ---------------- close
S('close/active_close.tcp','active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2 MSL, CLOSED',
  '9293 3.6; 9293 3.6.1','MUST-13','When a connection is closed actively, it MUST linger in the TIME-WAIT state for a time 2xMSL',
  HS+'''
+0.1  call close() = 0
+0    > F. seq=1 ack=1
      expect state FIN-WAIT-1
+0.1  < . seq=1 ack=2 win=65535
      expect state FIN-WAIT-2
+0.1  < F. seq=1 ack=2 win=65535
+0    > . seq=2 ack=2
      expect state TIME-WAIT
+1.99 expect state TIME-WAIT
+0.02 expect state CLOSED
      expect event Closed''', config=NOOPT+' msl=1')
S('close/passive_close.tcp','passive close: the peer closes, the application reads end of stream, closes; LAST-ACK, CLOSED',
  '9293 3.6','MAY-1','TCP implementations MAY support half-closed connections',
  HS+'''
+0.1  < F. seq=1 ack=1 win=65535
+0    > . seq=1 ack=2
      expect state CLOSE-WAIT
      expect event PeerClosed
      call recv(100) = 0
      call send(5) = 5
+0    > P. seq=1 ack=2 len=5
+0.1  < . seq=2 ack=6 win=65535
+0.1  call close() = 0
+0    > F. seq=6 ack=2
      expect state LAST-ACK
+0.1  < . seq=2 ack=7 win=65535
      expect state CLOSED
      expect event Closed''')
S('close/half_close_receives.tcp','after shutdown() (half-close) the stack keeps receiving and acknowledging data',
  '9293 3.6','MAY-1','A TCP implementation MAY support half-closed connections',
  HS+'''
+0.1  call shutdown() = 0
+0    > F. seq=1 ack=1
+0.1  < . seq=1 ack=2 win=65535
      expect state FIN-WAIT-2
      call send(10) = EPIPE
+0.1  < P. seq=1 ack=2 win=65535 len=1000
+0.04 > . seq=2 ack=1001
      call recv(2000) = 1000
+0.1  < F. seq=1001 ack=2 win=65535
+0    > . seq=2 ack=1002
      expect state TIME-WAIT''')
S('close/fin_after_queued_data.tcp','CLOSE after SEND: the FIN follows the data, and waits for it',
  '9293 3.10.4','none','Segmentize any text to be sent and queue for output; when all preceding SENDs have been segmentized, form a FIN segment and send it',
  '''+0    < S seq=0 win=1000 <mss 1460>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=1000
      call send(3000) = 3000
+0    > . seq=1 ack=1 len=1000
      call close() = 0
+0.1  < . seq=1 ack=1001 win=3000
+0    > . seq=1001 ack=1 len=1460
+0    > FP. seq=2461 ack=1 len=540
      expect state FIN-WAIT-1
+0.1  < . seq=1 ack=3002 win=3000
      expect state FIN-WAIT-2''')
S('close/simultaneous_close.tcp','simultaneous close: FIN-WAIT-1, CLOSING, TIME-WAIT',
  '9293 3.6','MUST-13','case 3: both users CLOSE simultaneously ... CLOSING ... TIME-WAIT',
  HS+'''
+0.1  call close() = 0
+0    > F. seq=1 ack=1
+0.01 < F. seq=1 ack=1 win=65535
+0    > . seq=2 ack=2
      expect state CLOSING
+0.05 < . seq=2 ack=2 win=65535
      expect state TIME-WAIT
+1.99 expect state TIME-WAIT
+0.02 expect state CLOSED''', config=NOOPT+' msl=1')
S('close/fin_retransmitted.tcp','an unacknowledged FIN is retransmitted on the RTO',
  '9293 3.6; 6298 5','RFC6298-5.5','When the retransmission timer expires, retransmit the earliest segment that has not been acknowledged',
  HS+'''
+0.1  call close() = 0
+0    > F. seq=1 ack=1
+1    > F. seq=1 ack=1
+2    > F. seq=1 ack=1
+0.1  < . seq=1 ack=2 win=65535
      expect state FIN-WAIT-2''', config=NOOPT+' rto_min=1')

# ---------------- TIME-WAIT
S('time_wait/fin_restarts_2msl.tcp','a retransmitted FIN in TIME-WAIT is acknowledged and restarts the 2 MSL timer',
  '9293 3.10.7.4; 9293 3.6.1','MUST-13','TIME-WAIT STATE: Remain in the TIME-WAIT state. Restart the 2 MSL time-wait timeout.',
  HS+'''
+0.1  call close() = 0
+0    > F. seq=1 ack=1
+0.1  < F. seq=1 ack=2 win=65535
+0    > . seq=2 ack=2
      expect state TIME-WAIT
+1.5  < F. seq=1 ack=2 win=65535
+0    > . seq=2 ack=2
+1.9  expect state TIME-WAIT
+0.2  expect state CLOSED''', config=NOOPT+' msl=1')
S('time_wait/rst_ignored.tcp','TIME-WAIT ignores an exact RST (RFC 1337) and still ends after 2 MSL',
  '1337 4; 9293 3.10.7.4','RFC1337','TIME-WAIT state: ignore RST segments',
  HS+'''
+0.1  call close() = 0
+0    > F. seq=1 ack=1
+0.1  < F. seq=1 ack=2 win=65535
+0    > . seq=2 ack=2
+0.5  < R seq=2 win=0
+0    expect nothing until +1
      expect state TIME-WAIT
+1    expect state CLOSED''', config=NOOPT+' msl=1')
S('time_wait/syn_reopens.tcp','a SYN with a newer timestamp reopens a TIME-WAIT connection',
  '6191 2; 9293 3.6.1','RFC6191, MAY-2, SHLD-4','new connections can be accepted if the Timestamp Option is used and meets expectations',
  '''+0    < S seq=0 win=65535 <mss 1460, ts val 100 ecr 0>
+0    > S. seq=0 ack=1 <mss 1460, ts val * ecr 100>
+0.1  < . seq=1 ack=1 win=65535 <ts val 200 ecr 0>
+0.1  call close() = 0
+0    > F. seq=1 ack=1 <ts val * ecr 200>
+0.1  < F. seq=1 ack=2 win=65535 <ts val 300 ecr 200>
+0    > . seq=2 ack=2
      expect state TIME-WAIT
+1    < S seq=100000 win=65535 <mss 1460, ts val 5000 ecr 0>
+0    > S. seq=* ack=100001 <mss 1460, ts val * ecr 5000>''', config='sack=off wscale=off', extra='# needs: time-wait-reopen')

# ---------------- RTO
S('rto/syn_initial_rto_and_backoff.tcp','SYN retransmissions: 1 s initial RTO, doubled each time',
  '6298 2.1; 6298 5.5; 9293 3.8.1','RFC6298-2.1, RFC6298-5.5, MUST-19',
  'Until a round-trip time (RTT) measurement has been made for a segment sent between the sender and receiver, the sender SHOULD set RTO <- 1 second',
  '''+0    > S seq=0 <mss 1460>
+1    > S seq=0 <mss 1460>
+2    > S seq=0 <mss 1460>
+4    > S seq=0 <mss 1460>
+8    > S seq=0 <mss 1460>''', setup='connect')
S('rto/rto_after_syn_loss.tcp','if the SYN was retransmitted, RTO is 3 s when data transmission begins',
  '6298 5.7','RFC6298-5.7','the RTO MUST be re-initialized to 3 seconds when data transmission begins',
  '''+0    > S seq=0 <mss 1460>
+1    > S seq=0 <mss 1460>
+0.1  < S. seq=0 ack=1 win=65535 <mss 1460>
+0    > . seq=1 ack=1
+0    call send(100) = 100
+0    > P. seq=1 ack=1 len=100
+3    > P. seq=1 ack=1 len=100''', setup='connect')
S('rto/first_sample.tcp','the first RTT sample sets RTO = SRTT + 4 RTTVAR (100 ms RTT: 300 ms), then doubles',
  '6298 2.2; 6298 5.5','RFC6298-2.2, RFC6298-5.5, RFC6298-5.1',
  'When the first RTT measurement R is made, the host MUST set SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR)',
  HS+'''
+0.1  call send(100) = 100
+0    > P. seq=1 ack=1 len=100
+0.3  > P. seq=1 ack=1 len=100
+0.6  > P. seq=1 ack=1 len=100
+1.2  > P. seq=1 ack=1 len=100
+0.05 < . seq=1 ack=101 win=65535
+0    expect nothing until +5''', config=NOOPT+' rto_min=0.2')
S('rto/minimum_one_second.tcp','with the RFC 6298 minimum, an RTO computed below 1 s is rounded up to 1 s',
  '6298 2.4','RFC6298-2.4','Whenever RTO is computed, if it is less than 1 second, then the RTO SHOULD be rounded up to 1 second',
  HS+'''
+0.1  call send(100) = 100
+0    > P. seq=1 ack=1 len=100
+1    > P. seq=1 ack=1 len=100''', config=NOOPT+' rto_min=1')
S('rto/maximum_rto.tcp','the backed-off RTO is capped at rto_max, which is at least 60 s',
  '6298 2.5','RFC6298-2.5','A maximum value MAY be placed on RTO provided it is at least 60 seconds',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+1    > P. seq=1 ack=1 len=10
+2    > P. seq=1 ack=1 len=10
+4    > P. seq=1 ack=1 len=10
+8    > P. seq=1 ack=1 len=10
+16   > P. seq=1 ack=1 len=10
+32   > P. seq=1 ack=1 len=10
+60   > P. seq=1 ack=1 len=10
+60   > P. seq=1 ack=1 len=10''', config=NOOPT+' rto_min=1 rto_max=60 r2=1000')
S('rto/karn.tcp',"Karn's algorithm: the ACK of a retransmitted segment gives no RTT sample and the backed-off RTO stays",
  '9293 3.8.1; 6298 3; 6298 5.7','MUST-18, RFC6298-3',"A TCP implementation MUST implement Karn's algorithm",
  HS+'''
+0.1  call send(100) = 100
+0    > P. seq=1 ack=1 len=100
+0.3  > P. seq=1 ack=1 len=100
+0.02 < . seq=1 ack=101 win=65535
      call send(100) = 100
+0    > P. seq=101 ack=1 len=100
+0.6  > P. seq=101 ack=1 len=100''', config=NOOPT+' rto_min=0.2')
S('rto/r1_r2.tcp','R1: the application hears of path trouble after 3 retransmissions; R2: the connection closes',
  '9293 3.8.3','MUST-20, SHLD-9, SHLD-10, MUST-21',
  'When the number of transmissions of the same segment reaches or exceeds threshold R2, close the connection',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+1    > P. seq=1 ack=1 len=10
+2    > P. seq=1 ack=1 len=10
+4    > P. seq=1 ack=1 len=10
      expect event PathTrouble
      expect state ESTABLISHED
+8    > P. seq=1 ack=1 len=10
+0.1  expect state ESTABLISHED
@21.3 expect state CLOSED
      expect event Failed(ETIMEDOUT)
      call send(1) = ETIMEDOUT''', config=NOOPT+' rto_min=1 r2=20')
S('rto/r2_default_at_least_100s.tcp','the default R2 keeps a connection through 100 s of retransmissions',
  '9293 3.8.3','SHLD-11','R2 SHOULD correspond to at least 100 seconds',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+1    > P. seq=1 ack=1 len=10
+2    > P. seq=1 ack=1 len=10
+4    > P. seq=1 ack=1 len=10
+8    > P. seq=1 ack=1 len=10
+16   > P. seq=1 ack=1 len=10
+32   > P. seq=1 ack=1 len=10
+37.9 expect state ESTABLISHED''', config=NOOPT+' rto_min=1')
S('rto/user_timeout.tcp','the application sets R2 with a user timeout',
  '9293 3.8.3; 5482','MUST-21','An application MUST be able to set the value for R2 for a particular connection',
  HS+'''
      call user_timeout(5) = 0
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+1    > P. seq=1 ack=1 len=10
+2    > P. seq=1 ack=1 len=10
+1.9  expect state ESTABLISHED
+0.2  expect state CLOSED
      expect event Failed(ETIMEDOUT)''', config=NOOPT+' rto_min=1')
S('rto/syn_r2.tcp','SYN retransmissions give up after R2 for SYNs, at least 3 minutes',
  '9293 3.8.3','MUST-22, MUST-23','the value of R2 for a SYN MUST be set large enough to provide retransmission of the segment for at least 3 minutes',
  '''+0    > S seq=0 <mss 1460>
+1    > S seq=0 <mss 1460>
+2    > S seq=0 <mss 1460>
+4    > S seq=0 <mss 1460>
+8    > S seq=0 <mss 1460>
+16   > S seq=0 <mss 1460>
+32   > S seq=0 <mss 1460>
+64   > S seq=0 <mss 1460>
@180  expect state SYN-SENT
@182  expect state CLOSED
      expect event Failed(ETIMEDOUT)''', setup='connect')

# ---------------- congestion control
BIGHS='''+0    < S seq=0 win=65535 <mss 1460>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535
      expect state ESTABLISHED'''
ten = '\n'.join(f'+0    > . seq={1+i*1460} ack=1 len=1460' for i in range(10))
S('congestion/initial_window.tcp','the initial window is 10 segments (RFC 6928); nothing more before an ACK',
  '5681 3.1; 6928 2','RFC5681-3.1-IW, MUST-19, MUST-1','The initial value of cwnd MUST be set ... IW = min (10*MSS, max (2*MSS, 14600))',
  BIGHS+'''
+0.1  call send(30000) = 30000
'''+ten+'''
+0    expect nothing until +0.1''', config=NOOPT+' rto_min=1')
S('congestion/slow_start.tcp','slow start: each ACK of a full segment grows cwnd by one segment',
  '5681 3.1','RFC5681-3.1-SS, MUST-19','During slow start, a TCP increments cwnd by at most SMSS bytes for each ACK received that cumulatively acknowledges new data',
  BIGHS+'''
+0.1  call send(30000) = 30000
'''+ten+'''
+0.1  < . seq=1 ack=1461 win=65535
+0    > . seq=14601 ack=1 len=1460
+0    > . seq=16061 ack=1 len=1460
+0    expect nothing until +0.01''', config=NOOPT+' rto_min=1')
S('congestion/rto_loss_window.tcp','after an RTO: one segment (loss window), then slow start from it',
  '5681 3.1','RFC5681-3.1-RTO, MUST-19','when a TCP sender detects segment loss using the retransmission timer ... the value of cwnd MUST be set to no more than the loss window, LW, which equals 1 full-sized segment',
  BIGHS+'''
+0.1  call send(4380) = 4380
+0    > . seq=1 ack=1 len=1460
+0    > . seq=1461 ack=1 len=1460
+0    > P. seq=2921 ack=1 len=1460
+1    > . seq=1 ack=1 len=1460
+0    expect nothing until +0.05
+0.05 < . seq=1 ack=1461 win=65535
+0    > . seq=1461 ack=1 len=1460
+0    > P. seq=2921 ack=1 len=1460''', config=NOOPT+' rto_min=1')
S('congestion/fast_retransmit.tcp','the third duplicate ACK triggers a fast retransmit of the first unacknowledged segment',
  '5681 3.2; 3042 2','RFC5681-3.2, RFC3042, MUST-19','The TCP sender SHOULD use the "fast retransmit" algorithm to detect and repair loss, based on incoming duplicate ACKs',
  BIGHS+'''
+0.1  call send(30000) = 30000
'''+ten+'''
+0.1  < . seq=1 ack=1 win=65535
+0    > . seq=14601 ack=1 len=1460
+0.001 < . seq=1 ack=1 win=65535
+0    > . seq=16061 ack=1 len=1460
+0.001 < . seq=1 ack=1 win=65535
+0    > . seq=1 ack=1 len=1460''', config=NOOPT+' rto_min=1')
S('congestion/newreno_partial_ack.tcp','NewReno: a partial ACK retransmits the next hole at once',
  '6582 3.2; 5681 3.2','RFC6582-3.2, RFC5681-3.2','retransmit the first unacknowledged segment (on a partial ACK)',
  BIGHS+'''
+0.1  call send(4380) = 4380
+0    > . seq=1 ack=1 len=1460
+0    > . seq=1461 ack=1 len=1460
+0    > P. seq=2921 ack=1 len=1460
+0.1  call send(4380) = 4380
+0    > . seq=4381 ack=1 len=1460
+0    > . seq=5841 ack=1 len=1460
+0    > P. seq=7301 ack=1 len=1460
+0.01 < . seq=1 ack=1 win=65535
+0.001 < . seq=1 ack=1 win=65535
+0.001 < . seq=1 ack=1 win=65535
+0    > . seq=1 ack=1 len=1460
+0.05 < . seq=1 ack=2921 win=65535
+0    > . seq=2921 ack=1 len=1460''', config=NOOPT+' rto_min=1 nagle=off')

# ---------------- ACK generation
S('ack/delayed_ack.tcp','a lone in-order segment is acknowledged after the delayed-ACK timeout, under 500 ms',
  '9293 3.8.6.3; 5681 4.2','SHLD-18, MUST-40, RFC5681-4.2','in particular, the delay MUST be less than 0.5 seconds',
  HS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=100
+0.04~0.001 > . seq=1 ack=101''')
S('ack/every_second_segment.tcp','every second full-sized segment is acknowledged at once',
  '9293 3.8.6.3; 5681 4.2','SHLD-19, MUST-58, RFC5681-4.2','an ACK SHOULD be generated for at least every second full-sized segment',
  HS+'''
+0.1  < . seq=1 ack=1 win=65535 len=1460
+0.001 < . seq=1461 ack=1 win=65535 len=1460
+0    > . seq=1 ack=2921
+0.001 < . seq=2921 ack=1 win=65535 len=1460
+0.04 > . seq=1 ack=4381''')
S('ack/out_of_order_immediate.tcp','out-of-order data draws an immediate duplicate ACK; filling the hole an immediate ACK',
  '9293 3.10.7.4; 5681 4.2','MAY-13, RFC5681-4.2','A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-order segment arrives',
  HS+'''
+0.1  < . seq=101 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0.01 < . seq=201 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0.01 < . seq=1 ack=1 win=65535 len=100
+0    > . seq=1 ack=301
      call recv(1000) = 300''')
S('ack/no_ack_for_pure_ack.tcp','a pure ACK is never acknowledged',
  '9293 3.8.6.3','none','an ACK segment (no data) is not itself acknowledged',
  HS+'''
+0.1  < . seq=1 ack=1 win=65535
+0.1  < . seq=1 ack=1 win=60000
+0    expect nothing until +2''')

# ---------------- reassembly
S('reassembly/reverse_order.tcp','segments arriving in reverse order are queued and delivered in order, with one cumulative ACK',
  '9293 3.10.7.4','SHLD-31, MUST-59, MUST-58','A TCP implementation SHOULD queue out-of-order segments; process all queued segments before sending any ACKs',
  HS+'''
+0.1  < . seq=201 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0    < . seq=101 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0    < . seq=1 ack=1 win=65535 len=100
+0    > . seq=1 ack=301
      call recv(1000) = 300''')
S('reassembly/overlaps.tcp','overlapping segments are trimmed: each byte is delivered once, the first copy kept',
  '9293 3.10.7.4; 9293 3.9','SHLD-31','segments with higher beginning sequence numbers may be held for later processing',
  HS+'''
+0.1  < . seq=51 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0    < . seq=1 ack=1 win=65535 len=70
+0    > . seq=1 ack=151
+0    < . seq=101 ack=1 win=65535 len=100
+0.25~0.25 > . seq=1 ack=201
      call recv(1000) = 200''')
S('reassembly/duplicate_segment.tcp','a duplicate of data already received is acknowledged at once and not delivered twice',
  '9293 3.10.7.4','none','If an incoming segment is not acceptable, an acknowledgment should be sent in reply',
  HS+'''
+0.1  < . seq=1 ack=1 win=65535 len=100
+0.04 > . seq=1 ack=101
+0.1  < . seq=1 ack=1 win=65535 len=100
+0    > . seq=1 ack=101
      call recv(1000) = 100
      call recv(1000) = EAGAIN''')
S('reassembly/many_holes.tcp','five holes filled in random order deliver the stream exactly',
  '9293 3.10.7.4','SHLD-31, MUST-59','A TCP implementation SHOULD queue out-of-order segments',
  HS+'''
+0.1  < . seq=401 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0    < . seq=201 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0    < . seq=801 ack=1 win=65535 len=100
+0    > . seq=1 ack=1
+0    < . seq=1 ack=1 win=65535 len=100
+0    > . seq=1 ack=101
+0    < . seq=601 ack=1 win=65535 len=100
+0    > . seq=1 ack=101
+0    < . seq=101 ack=1 win=65535 len=100
+0    > . seq=1 ack=301
+0    < . seq=301 ack=1 win=65535 len=100
+0    > . seq=1 ack=501
+0    < . seq=501 ack=1 win=65535 len=100
+0    > . seq=1 ack=701
+0    < . seq=701 ack=1 win=65535 len=100
+0    > . seq=1 ack=901
      call recv(2000) = 900''')

# ---------------- SACK
SACKHS='''+0    < S seq=0 win=65535 <mss 1460, sackOK>
+0    > S. seq=0 ack=1 <mss 1460, sackOK>
+0.1  < . seq=1 ack=1 win=65535
      expect state ESTABLISHED'''
S('sack/not_offered_not_used.tcp','without sackOK in the peer SYN, the SYN-ACK has no sackOK and no SACK blocks are sent',
  '2018 2','RFC2018-2','The SACK-permitted option ... MUST NOT be sent on non-SYN segments; SACK is used only if both sides sent it',
  HS+'''
+0.1  < . seq=101 ack=1 win=65535 len=100
+0    > . seq=1 ack=1 <>''', config='timestamps=off wscale=off')
S('sack/blocks_most_recent_first.tcp','SACK blocks: the block of the most recent segment first, then the others',
  '2018 4','RFC2018-4, RFC2018-3','The first SACK block MUST specify the contiguous block of data containing the segment which triggered this ACK',
  SACKHS+'''
+0.1  < . seq=101 ack=1 win=65535 len=100
+0    > . seq=1 ack=1 <sack 101:201>
+0.01 < . seq=301 ack=1 win=65535 len=100
+0    > . seq=1 ack=1 <sack 301:401 101:201>
+0.01 < . seq=501 ack=1 win=65535 len=100
+0    > . seq=1 ack=1 <sack 501:601 301:401 101:201>
+0.01 < . seq=201 ack=1 win=65535 len=100
+0    > . seq=1 ack=1 <sack 101:401 501:601>''', config='timestamps=off wscale=off')
S('sack/four_blocks_max.tcp','at most 4 SACK blocks without timestamps',
  '2018 3','RFC2018-3','a SACK option that specifies n blocks will have a length of 8*n+2 bytes, so the 40 bytes available for TCP options can specify a maximum of 4 blocks',
  SACKHS+'''
+0.1  < . seq=101 ack=1 win=65535 len=50
+0    > . seq=1 ack=1 <sack 101:151>
+0    < . seq=201 ack=1 win=65535 len=50
+0    > . seq=1 ack=1 <sack 201:251 101:151>
+0    < . seq=301 ack=1 win=65535 len=50
+0    > . seq=1 ack=1 <sack 301:351 201:251 101:151>
+0    < . seq=401 ack=1 win=65535 len=50
+0    > . seq=1 ack=1 <sack 401:451 301:351 201:251 101:151>
+0    < . seq=501 ack=1 win=65535 len=50
+0    > . seq=1 ack=1 <sack 501:551 401:451 301:351 201:251>''', config='timestamps=off wscale=off')
S('sack/three_blocks_with_timestamps.tcp','at most 3 SACK blocks beside timestamps',
  '2018 3; 7323 3','RFC2018-3','It is expected that SACK will often be used in conjunction with the Timestamp option ... which takes an additional 10 bytes ... thus a maximum of 3 SACK blocks will be allowed in this case',
  '''+0    < S seq=0 win=65535 <mss 1460, sackOK, ts val 1 ecr 0>
+0    > S. seq=0 ack=1 <mss 1460, sackOK, ts val 0 ecr 1>
+0.1  < . seq=1 ack=1 win=65535 <ts val 2 ecr 0>
+0.1  < . seq=101 ack=1 win=65535 len=50 <ts val 3 ecr 0>
+0    > . seq=1 ack=1 <sack 101:151, ts val * ecr 2>
+0    < . seq=201 ack=1 win=65535 len=50 <ts val 3 ecr 0>
+0    > . seq=1 ack=1 <sack 201:251 101:151, ts val * ecr 2>
+0    < . seq=301 ack=1 win=65535 len=50 <ts val 3 ecr 0>
+0    > . seq=1 ack=1 <sack 301:351 201:251 101:151, ts val * ecr 2>
+0    < . seq=401 ack=1 win=65535 len=50 <ts val 3 ecr 0>
+0    > . seq=1 ack=1 <sack 401:451 301:351 201:251, ts val * ecr 2>''', config='wscale=off')
S('sack/dsack.tcp','a duplicate segment is reported in a D-SACK block, first',
  '2883 4','RFC2883-4','If the D-SACK block reports a duplicate contiguous sequence from a (possibly larger) block of data in the receiver\'s data queue above the cumulative acknowledgement, then the second SACK block ... ',
  SACKHS+'''
+0.1  < . seq=1 ack=1 win=65535 len=100
+0.04 > . seq=1 ack=101
+0.1  < . seq=1 ack=1 win=65535 len=100
+0    > . seq=1 ack=101 <sack 1:101>''', config='timestamps=off wscale=off')
S('sack/sender_retransmits_hole.tcp','the sender retransmits the hole the peer SACKs around, not what it SACKed',
  '2018 1; 6675 5','RFC2018-4, RFC5681-3.2','the data sender can retransmit only the missing data segments',
  '''+0    < S seq=0 win=65535 <mss 1460, sackOK>
+0    > S. seq=0 ack=1 <mss 1460, sackOK>
+0.1  < . seq=1 ack=1 win=65535
+0.1  call send(5840) = 5840
+0    > . seq=1 ack=1 len=1460
+0    > . seq=1461 ack=1 len=1460
+0    > . seq=2921 ack=1 len=1460
+0    > P. seq=4381 ack=1 len=1460
+0.1  < . seq=1 ack=1 win=65535 <sack 1461:2921>
+0    < . seq=1 ack=1 win=65535 <sack 1461:4381>
+0    < . seq=1 ack=1 win=65535 <sack 1461:5841>
+0    > . seq=1 ack=1 len=1460''', config='timestamps=off wscale=off rto_min=1')

# ---------------- window scale
S('wscale/peer_scaled_window.tcp',"the peer's window is scaled by its shift once both SYNs carry the option",
  '7323 2.2','RFC7323-2.2, REC-1','the window field in a segment with SYN is never scaled; afterwards, SND.WND = SEG.WND << Snd.Wind.Shift',
  '''+0    < S seq=0 win=100 <mss 1000, nop, wscale 4>
+0    > S. seq=0 ack=1 <mss 1460, wscale *>
+0.1  < . seq=1 ack=1 win=200
      call send(5000) = 5000
+0    > . seq=1 ack=1 len=1000
+0    > . seq=1001 ack=1 len=1000
+0    > . seq=2001 ack=1 len=1000
+0    expect nothing until +0.1''', config='timestamps=off sack=off rto_min=1')
S('wscale/not_offered_not_used.tcp','without wscale in the peer SYN, no wscale is sent and windows are not scaled',
  '7323 2.2','RFC7323-2.2','the Window Scale option is sent in a <SYN,ACK> segment only if the corresponding option was received in the initial <SYN> segment',
  '''+0    < S seq=0 win=1000 <mss 1000>
+0    > S. seq=0 ack=1 win=65535 <mss 1460>
+0.1  < . seq=1 ack=1 win=2000
      call send(5000) = 5000
+0    > . seq=1 ack=1 len=1000
+0    > . seq=1001 ack=1 len=1000
+0    expect nothing until +0.1''', config='timestamps=off sack=off rto_min=1')
S('wscale/shift_above_14.tcp','a shift above 14 is used as 14',
  '7323 2.3','RFC7323-2.3','If a Window Scale option is received with a shift.cnt value larger than 14, the TCP SHOULD log the error but MUST use 14 instead of the specified value',
  '''+0    < S seq=0 win=65535 <mss 1000, wscale 15>
+0    > S. seq=0 ack=1 <mss 1460, wscale *>
+0.1  < . seq=1 ack=1 win=0
+0.1  < . seq=1 ack=1 win=1
      call send(3000) = 3000
+0    > . seq=1 ack=1 len=1000
+0    > . seq=1001 ack=1 len=1000
+0    > P. seq=2001 ack=1 len=1000''', config='timestamps=off sack=off rto_min=1')
S('wscale/own_window_scaled.tcp','our own advertised window is scaled after the handshake, never in the SYN-ACK',
  '7323 2.2','RFC7323-2.2, REC-1','The window field in a segment with the SYN bit set is never scaled',
  '''+0    < S seq=0 win=65535 <mss 1460, wscale 0>
+0    > S. seq=0 ack=1 win=65535 <mss 1460, wscale 3>
+0.1  < . seq=1 ack=1 win=65535
+0    < . seq=1 ack=1 win=65535 len=10
+0.04 > . seq=1 ack=11 win=32766''', config='timestamps=off sack=off rcvbuf=262144')

# ---------------- timestamps
TSHS='''+0    < S seq=0 win=65535 <mss 1460, ts val 1000 ecr 0>
+0    > S. seq=0 ack=1 <mss 1460, ts val 0 ecr 1000>
+0.1  < . seq=1 ack=1 win=65535 <ts val 1100 ecr 0>
      expect state ESTABLISHED'''
S('timestamps/echo.tcp','every segment carries timestamps; TSecr echoes TS.Recent; TSval follows our clock',
  '7323 3.2; 7323 4.3','RFC7323-3.2, RFC7323-4.3','TSecr ... MUST echo the value of TS.Recent',
  TSHS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=10 <ts val 1200 ecr 0>
+0.04 > . seq=1 ack=11 <ts val 240 ecr 1200>
+0.1  call send(10) = 10
+0    > P. seq=1 ack=11 len=10 <ts val 340 ecr 1200>''', config='sack=off wscale=off')
S('timestamps/missing_ts_dropped.tcp','once timestamps are negotiated, a segment without them is dropped (RST excepted)',
  '7323 3.2','RFC7323-3.2','If a non-RST segment is received without a TSopt, a TCP SHOULD silently drop the segment',
  TSHS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=10
+0    expect nothing until +0.5
      call recv(100) = EAGAIN
+0    < R seq=1 win=0
      expect state CLOSED''', config='sack=off wscale=off')
S('timestamps/paws.tcp','PAWS: a segment whose TSval is older than TS.Recent is dropped and acknowledged',
  '7323 5.3','RFC7323-5.3','If SEG.TSval < TS.Recent and the RST bit is off ... then the segment is not acceptable; send an acknowledgment in reply and drop the segment',
  TSHS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=10 <ts val 1200 ecr 0>
+0.04 > . seq=1 ack=11 <ts val * ecr 1200>
+0.1  < P. seq=11 ack=1 win=65535 len=10 <ts val 1150 ecr 0>
+0    > . seq=1 ack=11 <ts val * ecr 1200>
      call recv(100) = 10''', config='sack=off wscale=off')
S('timestamps/not_offered.tcp','without timestamps in the peer SYN, none are sent',
  '7323 3.2','RFC7323-3.2','A TCP MAY send the TSopt in an initial <SYN> segment ... only if it received a TSopt in the initial <SYN>, may it send TSopt in the <SYN,ACK>',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10 <>''', config='sack=off wscale=off')
S('timestamps/rtt_from_tsecr.tcp','RTT is measured from TSecr: 50 ms RTT gives a 250 ms RTO (200 ms floor)',
  '7323 4.1; 6298 2.2','RFC6298-2.2','RTTM: the RTT is measured from the echoed timestamp',
  TSHS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10 <ts val 200 ecr 1100>
+0.05 < . seq=1 ack=11 win=65535 <ts val 1200 ecr 200>
+0.1  call send(10) = 10
+0    > P. seq=11 ack=1 len=10 <ts val 350 ecr 1200>
+0.2~0.15 > P. seq=11 ack=1 len=10''', config='sack=off wscale=off rto_min=0.2')

# ---------------- MSS
S('mss/default_536.tcp','without an MSS option, the send MSS is 536',
  '9293 3.7.1','MUST-15, MUST-16','If an MSS Option is not received at connection setup, TCP implementations MUST assume a default send MSS of 536 (576 - 40) for IPv4',
  '''+0    < S seq=0 win=65535
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535
      call send(1000) = 1000
+0    > . seq=1 ack=1 len=536
+0    > P. seq=537 ack=1 len=464''', config=NOOPT+' nagle=off')
S('mss/peer_mss_smaller.tcp',"segments never exceed the peer's MSS; no MSS option on non-SYN segments",
  '9293 3.7.1','MUST-14, MUST-16, MUST-65','TCP implementations MUST NOT send the MSS Option in non-SYN segments',
  '''+0    < S seq=0 win=65535 <mss 500>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535
      call send(1200) = 1200
+0    > . seq=1 ack=1 len=500 <>
+0    > . seq=501 ack=1 len=500 <>
+0    > P. seq=1001 ack=1 len=200 <>''', config=NOOPT+' nagle=off')
S('mss/options_reduce_payload.tcp','with timestamps, data segments carry MSS - 12 bytes (RFC 6691)',
  '6691 2; 9293 3.7.1','RFC6691, MUST-16','the MSS value ... should not be decreased to account for any possible IP or TCP options; conversely, the sender MUST reduce the TCP data length to account for any IP or TCP options that it is including',
  '''+0    < S seq=0 win=65535 <mss 1460, ts val 1 ecr 0>
+0    > S. seq=0 ack=1 <mss 1460, ts val * ecr 1>
+0.1  < . seq=1 ack=1 win=65535 <ts val 2 ecr 0>
      call send(2000) = 2000
+0    > . seq=1 ack=1 len=1448
+0    > P. seq=1449 ack=1 len=552''', config='sack=off wscale=off nagle=off')
S('mss/own_mss_announced.tcp','the SYN announces MSS = MMS_R - 40 (1460 for a 1500-byte MTU) and options do not reduce it',
  '9293 3.7.1; 6691','MUST-67, MUST-14, RFC6691, SHLD-5','The MSS value to be sent in an MSS Option must be less than or equal to: MMS_R - 20',
  '''+0    > S seq=0 <mss 1460, ts val 0 ecr 0, sackOK, wscale *>''', setup='connect', config='')

# ---------------- Nagle and silly window syndrome
S('nagle_sws/nagle_holds_small_segment.tcp',"Nagle: a short segment waits while data is unacknowledged",
  '9293 3.7.4; 9293 3.9.1.2','SHLD-7, MAY-16, SHLD-27','A TCP implementation SHOULD implement the Nagle algorithm to coalesce short segments',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+0.01 call send(10) = 10
+0.01 call send(10) = 10
+0    expect nothing until +0.05
+0.01 < . seq=1 ack=11 win=65535
+0    > P. seq=11 ack=1 len=20''', config=NOOPT+' rto_min=1')
S('nagle_sws/nagle_off.tcp','with Nagle off, each short send goes out at once',
  '9293 3.7.4','MUST-17','there MUST be a way for an application to disable the Nagle algorithm on an individual connection',
  HS+'''
      call nagle(off) = 0
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+0.01 call send(10) = 10
+0    > P. seq=11 ack=1 len=10''', config=NOOPT+' rto_min=1')
S('nagle_sws/sender_sws.tcp','sender SWS avoidance: no segment smaller than both the MSS and half the largest window',
  '9293 3.8.6.2.1','MUST-38','A TCP implementation MUST include a SWS avoidance algorithm in the sender',
  '''+0    < S seq=0 win=4000 <mss 1460>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=4000
      call send(10000) = 10000
+0    > . seq=1 ack=1 len=1460
+0    > . seq=1461 ack=1 len=1460
+0    expect nothing until +0.05
+0.01 < . seq=1 ack=2921 win=4000
+0    > . seq=2921 ack=1 len=1460
+0    > . seq=4381 ack=1 len=1460''', config=NOOPT+' rto_min=1')
S('nagle_sws/receiver_sws.tcp','receiver SWS avoidance: the window reopens only by min(MSS, half the buffer)',
  '9293 3.8.6.2.2','MUST-39','A TCP implementation MUST include a SWS avoidance algorithm in the receiver',
  '''+0    < S seq=0 win=65535 <mss 1000>
+0    > S. seq=0 ack=1 win=4000 <mss 1000>
+0.1  < . seq=1 ack=1 win=65535
+0    < . seq=1 ack=1 win=65535 len=1000
+0    < . seq=1001 ack=1 win=65535 len=1000
+0    > . seq=1 ack=2001 win=2000
+0    < . seq=2001 ack=1 win=65535 len=1000
+0    < . seq=3001 ack=1 win=65535 len=1000
+0    > . seq=1 ack=4001 win=0
      call recv(100) = 100
+0    expect nothing until +0.5
      call recv(1000) = 1000
+0    > . seq=1 ack=4001 win=1100''', config=NOOPT+' rcvbuf=4000 mss=1000')
S('nagle_sws/push_on_last_segment.tcp','the last segment of a send carries PSH; data is not held back indefinitely',
  '9293 3.9.1.2','MUST-61, MUST-60, SHLD-28','the PSH bit is set in the last buffered segment',
  HS+'''
+0.1  call send(3000) = 3000
+0    > . seq=1 ack=1 len=1460
+0    > . seq=1461 ack=1 len=1460
+0    > P. seq=2921 ack=1 len=80''', config=NOOPT+' nagle=off')

# ---------------- zero window
S('zero_window/persist_probes.tcp','a zero window is probed after one RTO, with exponential backoff, forever',
  '9293 3.8.6.1; 6429','MUST-35, MUST-36, MUST-37, SHLD-29, SHLD-30, RFC6429, SHLD-17','The transmitting host SHOULD send the first zero-window probe when a zero window has existed for the retransmission timeout period',
  '''+0    < S seq=0 win=0 <mss 1460>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=0
      call send(100) = 100
@1.1   > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@3.1   > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@7.1   > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@15.1  > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@31.1  > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@63.1  > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@123.1 > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@183.1 > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
@243.1 > . seq=0 ack=1
+0.01 < . seq=1 ack=1 win=0
      expect state ESTABLISHED
+0.01 < . seq=1 ack=1 win=1000
+0    > P. seq=1 ack=1 len=100''', config=NOOPT+' rto_min=1 rto_max=60')
S('zero_window/rst_with_zero_window.tcp','with our receive window at zero, an exact RST is still processed',
  '9293 3.4','MUST-66, MAY-8','TCP implementations MUST process RST and URG fields even when the receive window is zero',
  '''+0    < S seq=0 win=65535 <mss 1000>
+0    > S. seq=0 ack=1 win=2000 <mss 1000>
+0.1  < . seq=1 ack=1 win=65535
+0    < . seq=1 ack=1 win=65535 len=1000
+0    < . seq=1001 ack=1 win=65535 len=1000
+0    > . seq=1 ack=2001 win=0
+1    < . seq=2001 ack=1 win=65535 len=1
+0    > . seq=1 ack=2001 win=0
+1    < R seq=2001 win=0
      expect state CLOSED''', config=NOOPT+' rcvbuf=2000 mss=1000')
S('zero_window/no_right_edge_shrink.tcp','the right edge of the advertised window never moves left',
  '9293 3.8.6','SHLD-14','A TCP receiver SHOULD NOT shrink the window, i.e., move the right window edge to the left',
  '''+0    < S seq=0 win=65535 <mss 1000>
+0    > S. seq=0 ack=1 win=3000 <mss 1000>
+0.1  < . seq=1 ack=1 win=65535
+0    < . seq=1 ack=1 win=65535 len=1000
+0.04 > . seq=1 ack=1001 win=2000
+0    < . seq=1001 ack=1 win=65535 len=1000
+0.04 > . seq=1 ack=2001 win=1000''', config=NOOPT+' rcvbuf=3000 mss=1000')
S('zero_window/window_shrunk_by_peer.tcp','when the peer shrinks its window, no new data goes beyond it and the connection survives',
  '9293 3.8.6','MUST-34, SHLD-15, SHLD-16, SHLD-17, MAY-7','A TCP implementation MUST be robust against window shrinking',
  '''+0    < S seq=0 win=5000 <mss 1000>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=5000
      call send(8000) = 8000
+0    > . seq=1 ack=1 len=1000
+0    > . seq=1001 ack=1 len=1000
+0    > . seq=2001 ack=1 len=1000
+0    > . seq=3001 ack=1 len=1000
+0    > . seq=4001 ack=1 len=1000
+0.01 < . seq=1 ack=1001 win=1000
+0    expect nothing until +0.5
+0.5  > . seq=1001 ack=1 len=1000
+0.01 < . seq=1 ack=5001 win=5000
+0    > . seq=5001 ack=1 len=1000
+0    > . seq=6001 ack=1 len=1000''', config=NOOPT+' rto_min=1')

# ---------------- keep-alive
S('keepalive/off_by_default.tcp','keep-alive is off by default: three idle hours without a segment',
  '9293 3.8.4; 1122 4.2.3.6','MUST-24, MUST-25, RFC1122-4.2.3.6','Keep-alive packets MUST only be sent when ... turned on ... and it MUST default to off',
  HS+'''
+0    expect nothing until +10800''')
S('keepalive/default_interval.tcp','turned on with defaults, the first probe comes after 2 hours idle, with no data',
  '9293 3.8.4; 1122 4.2.3.6','MUST-26, MUST-28, SHLD-12, MAY-5, RFC1122-4.2.3.6','This interval MUST be configurable and MUST default to no less than two hours',
  HS+'''
+0    call keepalive(7200, 75, 9) = 0
+0    expect nothing until +7199.9
+0.1  > . seq=0 ack=1 len=0
+0.01 < . seq=1 ack=1 win=65535
+0    expect nothing until +7199''')
S('keepalive/probes_and_give_up.tcp','keep-alive: configurable idle time; unanswered probes are repeated before giving up',
  '9293 3.8.4','MUST-27, MUST-29, SHLD-12, MAY-6','It is extremely important to remember that ACK segments that contain no data are not reliably transmitted by TCP ... a keep-alive mechanism MUST NOT interpret failure to respond to any specific probe as a dead connection',
  HS+'''
+0    call keepalive(10, 5, 3) = 0
+10   > . seq=0 ack=1 len=0
+5    > . seq=0 ack=1 len=0
+5    > . seq=0 ack=1 len=0
+0.01 < . seq=1 ack=1 win=65535
+10   > . seq=0 ack=1 len=0
+5    > . seq=0 ack=1 len=0
+5    > . seq=0 ack=1 len=0
+5    expect state CLOSED
      expect event Failed(ETIMEDOUT)''')

# ---------------- options robustness
S('options/unknown_option_ignored.tcp','an unknown option is skipped, on the SYN and on data',
  '9293 3.1','MUST-6, MUST-5','A TCP implementation MUST ignore without error any TCP option it does not implement',
  '''+0    < S seq=0 win=65535 <mss 1000, opt 254 0102abcd, nop, opt 99 00>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535 <opt 200 ffff>
+0    < P. seq=1 ack=1 win=65535 len=10 <nop, opt 77 01, nop>
+0.04 > . seq=1 ack=11
      call recv(100) = 10''')
S('options/unaligned_options.tcp','options are parsed whatever their alignment',
  '9293 3.2','MUST-64, MUST-4','TCP implementations MUST be prepared to handle options that begin on any octet boundary',
  '''+0    < S seq=0 win=65535 <nop, mss 1000, sackOK, nop, nop, nop, wscale 2>
+0    > S. seq=0 ack=1 <mss 1460, sackOK, wscale *>
+0.1  < . seq=1 ack=1 win=65535
      call send(1500) = 1500
+0    > . seq=1 ack=1 len=1000
+0    > P. seq=1001 ack=1 len=500''', config='timestamps=off nagle=off')
S('options/eol_ends_options.tcp','EOL ends the option list; what follows is padding',
  '9293 3.1','MUST-4, MUST-69, MUST-68','TCP implementations MUST support the End of Option List, No-Operation, and Maximum Segment Size options',
  '''+0    < S seq=0 win=65535 <mss 700, eol, raw 0303ff>
+0    > S. seq=0 ack=1 <mss 1460>
+0.1  < . seq=1 ack=1 win=65535
      call send(1000) = 1000
+0    > . seq=1 ack=1 len=700
+0    > P. seq=701 ack=1 len=300''', config='timestamps=off sack=off nagle=off')
S('options/illegal_length_dropped.tcp','a segment with an illegal option length is dropped; the connection goes on',
  '9293 3.1','MUST-7, MUST-68','A TCP implementation MUST be able to handle an illegal option length (e.g., zero) without crashing',
  HS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=10 <raw 0800>
+0    expect nothing until +0.5
+0    < P. seq=1 ack=1 win=65535 len=10 <nop, nop, raw 0201>
+0    expect nothing until +0.5
+0    < P. seq=1 ack=1 win=65535 len=10
+0.04 > . seq=1 ack=11
      call recv(100) = 10''')
S('options/bad_checksum_dropped.tcp','a segment with a bad checksum is dropped; our segments carry a valid checksum',
  '9293 3.1','MUST-3, MUST-2','the receiver MUST check the checksum; the sender MUST generate it',
  HS+'''
+0.1  < P. seq=1 ack=1 win=65535 len=10 bad-checksum
+0    expect nothing until +0.5
      call recv(100) = EAGAIN
+0    < P. seq=1 ack=1 win=65535 len=10
+0.04 > . seq=1 ack=11''')

# ---------------- urgent
S('urgent/urgent_pointer.tcp','the urgent pointer marks the first non-urgent octet; the application is told and can ask how much',
  '9293 3.8.5','MUST-30, MUST-62, MUST-32, MUST-33','the urgent pointer points to the sequence number of the octet following the urgent data',
  HS+'''
+0.1  < UP. seq=1 ack=1 win=65535 urg=5 len=10
      expect event Urgent
      call urgent_pending() = 5
+0.04 > . seq=1 ack=11
      call recv(3) = 3
      call urgent_pending() = 2
      call recv(10) = 7
      call urgent_pending() = 0''')
S('urgent/long_urgent.tcp','urgent data of any length, spanning segments',
  '9293 3.8.5','MUST-31','A TCP implementation MUST support a sequence of urgent data of any length',
  HS+'''
+0.1  < U. seq=1 ack=1 win=65535 urg=3000 len=1000
      expect event Urgent
      call urgent_pending() = 3000
+0    < U. seq=1001 ack=1 win=65535 urg=2000 len=1000
+0.04 > . seq=1 ack=2001
      call urgent_pending() = 3000''')

# ---------------- ICMP
S('icmp/soft_error_not_fatal.tcp','host unreachable in ESTABLISHED is a soft error: reported, not fatal',
  '9293 3.9.2.2; 5461','MUST-54, MUST-56, SHLD-25','TCP MUST NOT abort on Destination Unreachable codes 0, 1 or 5; SHOULD inform the application',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+0.1  < icmp unreachable code=1 seq=1
      expect state ESTABLISHED
      call soft_error() = EHOSTUNREACH
+0.1  < icmp time-exceeded seq=1
+0    < icmp param-problem seq=1
      expect state ESTABLISHED
+0.01 < . seq=1 ack=11 win=65535''', extra='# needs: icmp', config=NOOPT+' rto_min=1')
S('icmp/hard_error_aborts_open.tcp','port unreachable while opening aborts the connection',
  '9293 3.9.2.2','SHLD-26','Destination Unreachable codes 2-4 ... SHOULD abort the connection',
  '''+0    > S seq=0 <mss 1460>
+0.1  < icmp unreachable code=3 seq=0
      expect state CLOSED
      expect event Failed(ECONNREFUSED)''', setup='connect', extra='# needs: icmp')
S('icmp/source_quench_ignored.tcp','source quench is silently ignored',
  '9293 3.9.2.2','MUST-55','TCP implementations MUST silently discard any received ICMP Source Quench messages',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+0.01 < icmp source-quench seq=1
      call soft_error() = 0
+0.01 < . seq=1 ack=11 win=65535
      call send(10) = 10
+0    > P. seq=11 ack=1 len=10''', extra='# needs: icmp')
S('icmp/out_of_window_ignored.tcp','an ICMP error quoting a sequence number not in flight is ignored',
  '5927 4.1','RFC5927','TCP SHOULD check that the TCP sequence number contained in the payload of the ICMP error message is within the range SND.UNA =< SEG.SEQ < SND.NXT',
  '''+0    > S seq=0 <mss 1460>
+0.1  < icmp unreachable code=3 seq=5000
      expect state SYN-SENT''', setup='connect', extra='# needs: icmp')
S('icmp/frag_needed_resizes.tcp','fragmentation needed lowers the segment size and resends at once',
  '1191 6.5; 9293 3.7.3','RFC1191, SHLD-6','the TCP layer ... should reduce the size of segments it sends',
  HS+'''
+0.1  call send(1460) = 1460
+0    > P. seq=1 ack=1 len=1460
+0.01 < icmp frag-needed mtu=1000 seq=1
+0    > . seq=1 ack=1 len=960
+0    > P. seq=961 ack=1 len=500''', extra='# needs: icmp', config=NOOPT+' rto_min=1')

S('rto/subsequent_samples.tcp','a second RTT sample updates SRTT and RTTVAR with alpha 1/8 and beta 1/4',
  '6298 2.3','RFC6298-2.3','RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R|, SRTT <- (1 - alpha) * SRTT + alpha * R',
  HS+'''
+0.1  call send(10) = 10
+0    > P. seq=1 ack=1 len=10
+0.25 < . seq=1 ack=11 win=65535
+0.1  call send(10) = 10
+0    > P. seq=11 ack=1 len=10
+0.41875~0.002 > P. seq=11 ack=1 len=10''', config=NOOPT+' rto_min=0.2')
