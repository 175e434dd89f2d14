//! The protobuf codec of the generated services and clients: tonic-prost's, except that a message is decoded from
//! one contiguous slice of the received frame rather than through tonic's buffer type.
//!
//! tonic hands a decoder a `DecodeBuf` over its receive buffer. prost reads field by field, and through that type
//! every key, length and number is a call that advances the underlying `BytesMut`: for a typical 15 KiB
//! disclosure that bookkeeping cost about as much as the rest of decoding (`valgrind --tool=callgrind` on the
//! server under load). The frame is contiguous in tonic's buffer, so the decoder reads it as a `&[u8]`, which prost
//! walks with its inlined fast paths. Encoding is tonic-prost's.

use std::marker::PhantomData;

use bytes::Buf;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder},
};
use tonic_prost::ProstEncoder;

/// The codec the generated code names (`build.rs`: `codec_path`).
#[derive(Debug, Clone)]
pub struct SliceCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for SliceCodec<T, U> {
    fn default() -> Self {
        SliceCodec {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for SliceCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder { _type: PhantomData }
    }
}

#[derive(Debug)]
pub struct SliceDecoder<U> {
    _type: PhantomData<U>,
}

impl<U: prost::Message + Default> Decoder for SliceDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let length = buf.remaining();
        let decoded = if buf.chunk().len() >= length {
            let decoded = U::decode(&buf.chunk()[..length]);
            buf.advance(length);
            decoded
        } else {
            // Not contiguous (tonic's buffer is, but its type does not promise it): one copy, then the slice.
            U::decode(buf.copy_to_bytes(length).as_ref())
        };
        // As tonic-prost maps it: the request guard has refused every malformed message before this point, so a
        // failure here is the service's own.
        decoded
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::pb;

    /// The codec reads what prost wrote, through tonic's own decode path: a frame on a stream of bytes.
    #[tokio::test]
    async fn a_message_reads_back_as_it_was_written() {
        let sent = pb::GetUnitRequest {
            code: "123456789".into(),
            fiscal_year: 2024,
        };
        let body = sent.encode_to_vec();
        let mut frame = vec![0u8];
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        let http_body = http_body_util::Full::new(bytes::Bytes::from(frame));
        let mut stream = tonic::codec::Streaming::new_request(
            SliceCodec::<pb::GetUnitRequest, pb::GetUnitRequest>::default().decoder(),
            http_body,
            None,
            None,
        );
        let received = stream.message().await.unwrap().expect("one message");
        assert_eq!(received, sent);
        assert!(stream.message().await.unwrap().is_none());
    }
}
