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

/**
 * FLOATS and STRINGS (onnx.proto AttributeType 6 and 8): @vae/models/onnx types only the kinds
 * it uses itself, but its encoder has the whole vendored schema, so these fields are written too.
 */
export const floats = (name: string, values: number[]): Attribute => ({ name, type: 6, floats: [...values] }) as Attribute;
export const strs = (name: string, values: string[]): Attribute =>
  ({ name, type: 8, strings: values.map((v) => new TextEncoder().encode(v)) }) as Attribute;
