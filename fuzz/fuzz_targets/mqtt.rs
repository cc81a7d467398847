//! Any bytes as what an MQTT broker sends the `mqtt` probe: the decoder of the client the probe
//! uses (rumqttc's MQTT 3.1.1 packets, with the probe's default incoming size limit and a large
//! one) never panics, never reads a packet larger than its limit, and always makes progress.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rumqttc::Packet;

fuzz_target!(|data: &[u8]| {
    for max in [10 * 1024, 1 << 20] {
        let mut stream = BytesMut::from(data);
        loop {
            let before = stream.len();
            match Packet::read(&mut stream, max) {
                Ok(_) => {
                    let read = before - stream.len();
                    assert!(read > 0, "a packet was read from no bytes");
                    assert!(read <= max + 5, "a packet over the size limit was read");
                }
                Err(_) => break,
            }
        }
    }
});
