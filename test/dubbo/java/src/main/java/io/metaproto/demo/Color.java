package io.metaproto.demo;

/** Enum: hessian writes it as an object with a single "name" field. */
public enum Color { RED, GREEN, BLUE }
