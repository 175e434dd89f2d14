//! SM2 signatures on submissions (GB/T 32918, GM/T 0003): a unit that registers a public key must sign every
//! disclosure it submits, over the disclosure's bytes exactly as sent, with the standard's default
//! distinguishing identifier. The server verifies the signature and keeps it with the version, so that who
//! vouched for a figure can be shown later without trusting the server's word.

use sm2::{
    SecretKey,
    dsa::{
        Signature, SigningKey, VerifyingKey,
        signature::{Signer, Verifier},
    },
    elliptic_curve::Generate,
};
use sm3::{Digest, Sm3};

/// The distinguishing identifier GM/T 0009 sets as the default: "1234567812345678".
pub const DEFAULT_DISTID: &str = "1234567812345678";

/// Why a key or a signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("is not an SM2 public key (SEC1: 65 bytes starting 0x04, or 33 compressed)")]
    BadPublicKey,
    #[error("is not an SM2 private key (32 bytes, or 64 hex digits)")]
    BadPrivateKey,
    #[error("is not an SM2 signature (64 bytes r‖s, or DER)")]
    BadSignature,
    #[error("does not verify against the unit's registered key over the disclosure's bytes")]
    Mismatch,
}

/// A public key as registered: parsed, and kept in uncompressed SEC1 form.
pub fn parse_public_key(bytes: &[u8]) -> Result<Vec<u8>, SigningError> {
    let key = VerifyingKey::from_sec1_bytes(DEFAULT_DISTID, bytes)
        .map_err(|_| SigningError::BadPublicKey)?;
    Ok(key.to_sec1_bytes().to_vec())
}

/// SM3 of a public key, hex: a fingerprint to confirm a key by another channel.
pub fn fingerprint(public_key: &[u8]) -> String {
    hex::encode(Sm3::digest(public_key))
}

fn parse_signature(bytes: &[u8]) -> Result<Signature, SigningError> {
    if bytes.len() == 64 {
        Signature::from_slice(bytes).map_err(|_| SigningError::BadSignature)
    } else {
        sm2::dsa::DerSignature::try_from(bytes)
            .ok()
            .and_then(|der| Signature::try_from(der).ok())
            .ok_or(SigningError::BadSignature)
    }
}

/// Verifies a signature over `message` with a registered public key.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SigningError> {
    let key = VerifyingKey::from_sec1_bytes(DEFAULT_DISTID, public_key)
        .map_err(|_| SigningError::BadPublicKey)?;
    let signature = parse_signature(signature)?;
    key.verify(message, &signature)
        .map_err(|_| SigningError::Mismatch)
}

/// A new key pair: the private key (32 bytes) and the public key (SEC1, uncompressed).
pub fn generate() -> (Vec<u8>, Vec<u8>) {
    let secret = SecretKey::generate();
    let public = secret.public_key().to_sec1_bytes().to_vec();
    (secret.to_bytes().to_vec(), public)
}

/// A private key from its 32 bytes or their 64 hex digits (surrounding whitespace ignored).
pub fn parse_private_key(text: &[u8]) -> Result<SigningKey, SigningError> {
    // 32 raw bytes are taken as they are: any of them may look like whitespace.
    let bytes = if text.len() == 32 {
        text.to_vec()
    } else {
        let trimmed = text.trim_ascii();
        if trimmed.len() != 64 {
            return Err(SigningError::BadPrivateKey);
        }
        hex::decode(trimmed).map_err(|_| SigningError::BadPrivateKey)?
    };
    SigningKey::from_slice(DEFAULT_DISTID, &bytes).map_err(|_| SigningError::BadPrivateKey)
}

/// Signs `message`: 64 bytes r‖s.
pub fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    signature.to_bytes().to_vec()
}

/// The public key of a private key (SEC1, uncompressed).
pub fn public_key_of(key: &SigningKey) -> Vec<u8> {
    key.verifying_key().to_sec1_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GM/T 0003.5-2012 (GB/T 32918.5-2017) Appendix A, the recommended curve: private key dA, its public key
    /// (xA, yA), and the signature (r, s) of "message digest" with the default identifier.
    const D_A: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const X_A: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
    const Y_A: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

    fn standard_public_key() -> Vec<u8> {
        hex::decode(format!("04{X_A}{Y_A}")).unwrap()
    }

    #[test]
    fn the_standards_key_pair_and_signature() {
        let key = parse_private_key(D_A.as_bytes()).unwrap();
        assert_eq!(public_key_of(&key), standard_public_key());
        let signature = hex::decode(format!("{R}{S}")).unwrap();
        assert_eq!(
            verify(&standard_public_key(), b"message digest", &signature),
            Ok(())
        );
        assert_eq!(
            verify(&standard_public_key(), b"message digesT", &signature),
            Err(SigningError::Mismatch)
        );
    }

    #[test]
    fn a_flipped_byte_anywhere_is_refused() {
        let (private, public) = generate();
        let key = parse_private_key(&private).unwrap();
        let message = b"disclosure bytes".to_vec();
        let signature = sign(&key, &message);
        assert_eq!(verify(&public, &message, &signature), Ok(()));
        for i in 0..message.len() {
            let mut changed = message.clone();
            changed[i] ^= 1;
            assert!(verify(&public, &changed, &signature).is_err());
        }
        for i in 0..signature.len() {
            let mut changed = signature.clone();
            changed[i] ^= 0x80;
            assert!(verify(&public, &message, &changed).is_err());
        }
    }

    #[test]
    fn raw_keys_that_look_like_whitespace_are_keys() {
        // A raw key may begin and end with bytes that are ASCII whitespace; they are not trimmed.
        let mut raw = [0x42u8; 32];
        raw[0] = b' ';
        raw[31] = b'\n';
        let key = parse_private_key(&raw).unwrap();
        let hex_form = format!("  {}\n", hex::encode(raw));
        assert_eq!(
            public_key_of(&parse_private_key(hex_form.as_bytes()).unwrap()),
            public_key_of(&key)
        );
    }

    #[test]
    fn keys_and_signatures_are_parsed_strictly() {
        assert_eq!(parse_public_key(&[4; 65]), Err(SigningError::BadPublicKey));
        assert_eq!(
            parse_public_key(&standard_public_key()).unwrap(),
            standard_public_key()
        );
        assert!(parse_private_key(b"xyz").is_err());
        assert_eq!(
            verify(&standard_public_key(), b"m", &[1, 2, 3]),
            Err(SigningError::BadSignature)
        );
        assert_eq!(fingerprint(b"abc").len(), 64);
    }
}
