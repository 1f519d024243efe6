/**
 * ONNX node attributes from plain values. The kind is explicit (int vs float) because a JS
 * number cannot say which one ONNX expects: `alpha: 1` must be a FLOAT, `axis: 1` an INT.
 */
import { AttributeType, type AttributeProto } from '@vae/models/onnx';

export type Attribute = AttributeProto;

export const int = (name: string, i: number): Attribute => ({ name, type: AttributeType.INT, i });
export const ints = (name: string, values: number[]): Attribute => ({ name, type: AttributeType.INTS, ints: [...values] });
export const float = (name: string, f: number): Attribute => ({ name, type: AttributeType.FLOAT, f });
export const str = (name: string, s: string): Attribute => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) });
