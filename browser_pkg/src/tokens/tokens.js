// Participation tokens on the device (README, "Participation tokens"): a module of its own,
// which the worker imports only once the visitor granted `improve`. It blinds a random nonce,
// has the server evaluate it under the round's key (with the visitor's id and secret, so the
// server can hold each visitor to one token a round) and unblinds the answer after checking
// its proof against the key the public global model published for that round. The token
// (round, nonce, authenticator) is later spent by one update, which names nobody: the server
// never saw the nonce or the authenticator, so it cannot tell whose token it was.

import { DLEQProof, Evaluation, Oprf, VOPRFClient } from "@cloudflare/voprf-ts";
import { CryptoNoble } from "@cloudflare/voprf-ts/crypto-noble";

Oprf.Crypto = CryptoNoble; // ristretto255 needs @noble/curves (RFC 9497's ristretto255-SHA512)
const SUITE = Oprf.Suite.RISTRETTO255_SHA512;
const PROOF_BYTES = 64; // the evaluation is the proof (c, s), then the evaluated element

const encode = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const decode = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

// A token for `round`, whose key `tokenKey` (base64url) the global model published; rejects
// with the server's refusal (an HttpError) or if the proof does not hold for that key.
export async function takeToken(client, who, round, tokenKey) {
  const voprf = new VOPRFClient(SUITE, decode(tokenKey));
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const [finalization, request] = await voprf.blind([nonce]);
  const answer = await client.token(who, round, encode(request.blinded[0].serialize(true)));
  const evaluated = decode(answer.evaluation);
  const group = Oprf.getGroup(SUITE);
  const evaluation = new Evaluation(Oprf.Mode.VOPRF, [group.desElt(evaluated.subarray(PROOF_BYTES))],
    DLEQProof.deserialize(group.id, evaluated.subarray(0, PROOF_BYTES)));
  const [authenticator] = await voprf.finalize(finalization, evaluation);
  return { round, nonce: encode(nonce), authenticator: encode(authenticator) };
}
